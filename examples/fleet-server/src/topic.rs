//! The MQTT topic layout.
//!
//! ```text
//! fleet/v1/devices/{id}/up/frames     device -> service  telemetry frames (acked after commit)
//! fleet/v1/devices/{id}/up/report     device -> service  update reports (acked after commit)
//! fleet/v1/devices/{id}/up/hello      device -> service  check-in: running version, accepted sequence
//! fleet/v1/devices/{id}/up/chunk      device -> service  request for one payload chunk
//! fleet/v1/devices/{id}/down/ack      service -> device  what was committed (or refused for good)
//! fleet/v1/devices/{id}/down/offer    service -> device  an update offer: signed envelope + payload shape
//! fleet/v1/devices/{id}/down/chunk    service -> device  one payload chunk
//! fleet/v1/devices/{id}/down/rollback service -> device  a rollback directive (an offer follows)
//! fleet/v1/devices/{id}/down/notice   service -> device  a signed sunset notice
//! ```
//!
//! `{id}` is the device id as a decimal `u64` without leading zeros; any other spelling is not
//! a device topic. The service subscribes to `fleet/v1/devices/+/up/+`; a device subscribes to
//! its own `fleet/v1/devices/{id}/down/+`. With an external broker, restrict each device's
//! credentials to its own topics (mosquitto: `pattern readwrite fleet/v1/devices/%u/#` with the
//! device id as user name), so that no device can speak for another.

/// Prefix of every device topic.
pub const PREFIX: &str = "fleet/v1/devices/";

/// What the service subscribes to.
pub const UPLINK_FILTER: &str = "fleet/v1/devices/+/up/+";

/// Messages a device sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Up {
    /// Telemetry frames.
    Frames,
    /// Update reports.
    Report,
    /// Check-in.
    Hello,
    /// Chunk request.
    Chunk,
}

/// Messages the service sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Down {
    /// What was committed.
    Ack,
    /// An update offer.
    Offer,
    /// A payload chunk.
    Chunk,
    /// A rollback directive.
    Rollback,
    /// A sunset notice.
    Notice,
}

impl Down {
    fn name(self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::Offer => "offer",
            Self::Chunk => "chunk",
            Self::Rollback => "rollback",
            Self::Notice => "notice",
        }
    }
}

impl Up {
    fn name(self) -> &'static str {
        match self {
            Self::Frames => "frames",
            Self::Report => "report",
            Self::Hello => "hello",
            Self::Chunk => "chunk",
        }
    }
}

/// The topic of an uplink message.
#[must_use]
pub fn up(device: u64, kind: Up) -> String {
    format!("{PREFIX}{device}/up/{}", kind.name())
}

/// The topic of a downlink message.
#[must_use]
pub fn down(device: u64, kind: Down) -> String {
    format!("{PREFIX}{device}/down/{}", kind.name())
}

/// A device's downlink filter.
#[must_use]
pub fn down_filter(device: u64) -> String {
    format!("{PREFIX}{device}/down/+")
}

/// Parses a decimal device id, canonical spelling only.
#[must_use]
pub fn parse_id(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.len() <= 20
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// Parses an uplink topic into the device id and the message kind.
#[must_use]
pub fn parse_up(topic: &str) -> Option<(u64, Up)> {
    let rest = topic.strip_prefix(PREFIX)?;
    let (id, rest) = rest.split_once('/')?;
    let kind = match rest {
        "up/frames" => Up::Frames,
        "up/report" => Up::Report,
        "up/hello" => Up::Hello,
        "up/chunk" => Up::Chunk,
        _ => return None,
    };
    Some((parse_id(id)?, kind))
}

/// Parses a downlink topic into the device id and the message kind.
#[must_use]
pub fn parse_down(topic: &str) -> Option<(u64, Down)> {
    let rest = topic.strip_prefix(PREFIX)?;
    let (id, rest) = rest.split_once('/')?;
    let kind = match rest {
        "down/ack" => Down::Ack,
        "down/offer" => Down::Offer,
        "down/chunk" => Down::Chunk,
        "down/rollback" => Down::Rollback,
        "down/notice" => Down::Notice,
        _ => return None,
    };
    Some((parse_id(id)?, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_spellings() {
        assert_eq!(parse_up(&up(42, Up::Frames)), Some((42, Up::Frames)));
        assert_eq!(
            parse_down(&down(u64::MAX, Down::Ack)),
            Some((u64::MAX, Down::Ack))
        );
        assert_eq!(parse_up("fleet/v1/devices/042/up/frames"), None);
        assert_eq!(parse_up("fleet/v1/devices/+42/up/frames"), None);
        assert_eq!(
            parse_up("fleet/v1/devices/18446744073709551616/up/frames"),
            None
        );
        assert_eq!(parse_up("fleet/v1/devices/1/up/frames/x"), None);
        assert_eq!(parse_up("fleet/v1/devices/1/down/ack"), None);
        assert_eq!(parse_up("fleet/v1/devices//up/hello"), None);
        assert_eq!(
            parse_up("fleet/v1/devices/0/up/hello"),
            Some((0, Up::Hello))
        );
    }
}
