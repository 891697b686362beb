//! The MQTT 3.1.1 (and 3.1) packets the embedded broker reads and writes.
//!
//! Read: CONNECT, PUBLISH (QoS 0 and 1), PUBACK, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT.
//! Written: CONNACK, PUBLISH, PUBACK, SUBACK, UNSUBACK, PINGRESP. QoS 2 is not offered: a
//! subscription asking for it is granted QoS 1, and a QoS 2 PUBLISH closes the connection.
//! Every length is checked against the bytes present and against a size limit before anything
//! is allocated for it.

use bytes::{Buf as _, Bytes, BytesMut};

/// Why bytes from a client are not a packet the broker takes. The connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// The remaining length did not end within four bytes.
    #[error("the remaining length runs past 4 bytes")]
    LengthTooLong,
    /// The packet is larger than the broker takes.
    #[error("a packet of {size} bytes is over the limit of {limit}")]
    TooLarge {
        /// Its size (fixed header included).
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A packet type a client does not send (or QoS 2 flow), or a reserved type.
    #[error("packet type {0} is not one a client sends to this broker")]
    UnexpectedType(u8),
    /// The fixed header's flags are wrong for the type.
    #[error("flags {flags:#06b} are not valid for packet type {kind}")]
    Flags {
        /// Packet type.
        kind: u8,
        /// The four flag bits.
        flags: u8,
    },
    /// A field runs past the end of its packet.
    #[error("the packet ends inside its {0}")]
    Truncated(&'static str),
    /// CONNECT names another protocol or level.
    #[error("protocol {name:?} level {level} is not MQTT 3.1 (MQIsdp 3) or 3.1.1 (MQTT 4)")]
    Protocol {
        /// The protocol name.
        name: String,
        /// The level.
        level: u8,
    },
    /// QoS 2, which this broker does not offer, or the invalid QoS 3.
    #[error("QoS {0} is not offered (0 and 1 are)")]
    QoS(u8),
    /// A string is not UTF-8.
    #[error("a {0} is not UTF-8")]
    Utf8(&'static str),
    /// A topic name is empty or holds a wildcard.
    #[error("topic name {0:?} is empty or holds + or #")]
    TopicName(String),
    /// A topic filter is empty or uses a wildcard other than as a whole level (`#` last).
    #[error("topic filter {0:?} is empty or misuses + or #")]
    TopicFilter(String),
    /// SUBSCRIBE or UNSUBSCRIBE without any filter, or a packet id of 0 where one is needed.
    #[error("the {0} is empty")]
    Empty(&'static str),
}

/// What CONNECT asks for (the will is read past and not kept: this broker publishes none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// Protocol level (3 or 4).
    pub level: u8,
    /// Client id (may be empty).
    pub client_id: String,
    /// Seconds; 0: no keep-alive.
    pub keep_alive: u16,
    /// The clean-session flag.
    pub clean_session: bool,
    /// User name, if any.
    pub username: Option<String>,
    /// Password, if any.
    pub password: Option<Bytes>,
}

/// A PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// Topic name.
    pub topic: Bytes,
    /// 0 or 1.
    pub qos: u8,
    /// Packet id (0 for QoS 0).
    pub pkid: u16,
    /// Payload.
    pub payload: Bytes,
}

impl Publish {
    /// The topic as text (checked to be UTF-8 when decoded).
    #[must_use]
    pub fn topic_str(&self) -> &str {
        core::str::from_utf8(&self.topic).unwrap_or("")
    }
}

/// A packet from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT.
    Connect(Connect),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK with its packet id.
    PubAck(u16),
    /// SUBSCRIBE: packet id, (filter, requested QoS).
    Subscribe(u16, Vec<(String, u8)>),
    /// UNSUBSCRIBE: packet id, filters.
    Unsubscribe(u16, Vec<String>),
    /// PINGREQ.
    PingReq,
    /// DISCONNECT.
    Disconnect,
}

/// (fixed header length, remaining length) of the packet at the start of `bytes`, `None` while
/// incomplete.
///
/// # Errors
/// [`PacketError::LengthTooLong`].
pub fn fixed_header(bytes: &[u8]) -> Result<Option<(usize, usize)>, PacketError> {
    let mut len = 0usize;
    for i in 0..4 {
        let Some(&b) = bytes.get(1 + i) else {
            return Ok(None);
        };
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((2 + i, len)));
        }
    }
    Err(PacketError::LengthTooLong)
}

/// Takes one whole packet off the front of `buf` (`None`: more bytes are needed).
///
/// # Errors
/// [`PacketError`]: the connection must be closed.
pub fn decode(buf: &mut BytesMut, max: usize) -> Result<Option<Packet>, PacketError> {
    let Some((header, len)) = fixed_header(buf)? else {
        return Ok(None);
    };
    let size = header + len;
    if size > max {
        return Err(PacketError::TooLarge { size, limit: max });
    }
    if buf.len() < size {
        buf.reserve(size - buf.len());
        return Ok(None);
    }
    // A copy of just this packet: the read buffer stays the connection's own (reused for
    // the next read instead of a new allocation each time a queued packet still holds it).
    let mut packet = Bytes::copy_from_slice(buf.get(..size).unwrap_or_default());
    buf.advance(size);
    let first = packet.get_u8();
    packet.advance(header - 1);
    let (kind, flags) = (first >> 4, first & 0x0f);
    let fixed = |want: u8| {
        if flags == want {
            Ok(())
        } else {
            Err(PacketError::Flags { kind, flags })
        }
    };
    let p = match kind {
        1 => {
            fixed(0)?;
            Packet::Connect(connect(packet)?)
        }
        3 => Packet::Publish(publish(flags, packet)?),
        4 => {
            fixed(0)?;
            Packet::PubAck(u16_field(&mut packet, "packet id")?)
        }
        8 => {
            fixed(2)?;
            let pkid = u16_field(&mut packet, "packet id")?;
            let mut filters = Vec::new();
            while !packet.is_empty() {
                let f = string(&mut packet, "topic filter")?;
                check_filter(&f)?;
                let qos = *packet
                    .first()
                    .ok_or(PacketError::Truncated("requested QoS"))?;
                packet.advance(1);
                if qos > 2 {
                    return Err(PacketError::QoS(qos));
                }
                filters.push((f, qos));
            }
            if filters.is_empty() {
                return Err(PacketError::Empty("SUBSCRIBE filter list"));
            }
            Packet::Subscribe(pkid, filters)
        }
        10 => {
            fixed(2)?;
            let pkid = u16_field(&mut packet, "packet id")?;
            let mut filters = Vec::new();
            while !packet.is_empty() {
                let f = string(&mut packet, "topic filter")?;
                check_filter(&f)?;
                filters.push(f);
            }
            if filters.is_empty() {
                return Err(PacketError::Empty("UNSUBSCRIBE filter list"));
            }
            Packet::Unsubscribe(pkid, filters)
        }
        12 => {
            fixed(0)?;
            Packet::PingReq
        }
        14 => {
            fixed(0)?;
            Packet::Disconnect
        }
        other => return Err(PacketError::UnexpectedType(other)),
    };
    Ok(Some(p))
}

fn u16_field(b: &mut Bytes, what: &'static str) -> Result<u16, PacketError> {
    if b.len() < 2 {
        return Err(PacketError::Truncated(what));
    }
    Ok(b.get_u16())
}

fn binary(b: &mut Bytes, what: &'static str) -> Result<Bytes, PacketError> {
    let n = usize::from(u16_field(b, what)?);
    if b.len() < n {
        return Err(PacketError::Truncated(what));
    }
    Ok(b.split_to(n))
}

fn string(b: &mut Bytes, what: &'static str) -> Result<String, PacketError> {
    let raw = binary(b, what)?;
    String::from_utf8(raw.to_vec()).map_err(|_| PacketError::Utf8(what))
}

fn connect(mut b: Bytes) -> Result<Connect, PacketError> {
    let name = string(&mut b, "protocol name")?;
    let level = *b.first().ok_or(PacketError::Truncated("protocol level"))?;
    b.advance(1);
    if !matches!((name.as_str(), level), ("MQTT", 4) | ("MQIsdp", 3)) {
        return Err(PacketError::Protocol { name, level });
    }
    let flags = *b.first().ok_or(PacketError::Truncated("connect flags"))?;
    b.advance(1);
    if flags & 1 != 0 {
        return Err(PacketError::Flags { kind: 1, flags });
    }
    let keep_alive = u16_field(&mut b, "keep-alive")?;
    let client_id = string(&mut b, "client id")?;
    if flags & 0x04 != 0 {
        let _topic = binary(&mut b, "will topic")?;
        let _message = binary(&mut b, "will message")?;
    }
    let username = if flags & 0x80 != 0 {
        Some(string(&mut b, "user name")?)
    } else {
        None
    };
    let password = if flags & 0x40 != 0 {
        Some(binary(&mut b, "password")?)
    } else {
        None
    };
    Ok(Connect {
        level,
        client_id,
        keep_alive,
        clean_session: flags & 0x02 != 0,
        username,
        password,
    })
}

fn publish(flags: u8, mut b: Bytes) -> Result<Publish, PacketError> {
    let qos = (flags >> 1) & 3;
    if qos > 1 {
        return Err(PacketError::QoS(qos));
    }
    let topic = binary(&mut b, "topic name")?;
    let text = core::str::from_utf8(&topic).map_err(|_| PacketError::Utf8("topic name"))?;
    if text.is_empty() || text.contains(['+', '#']) {
        return Err(PacketError::TopicName(text.to_string()));
    }
    let pkid = if qos == 1 {
        let id = u16_field(&mut b, "packet id")?;
        if id == 0 {
            return Err(PacketError::Empty("packet id"));
        }
        id
    } else {
        0
    };
    Ok(Publish {
        topic,
        qos,
        pkid,
        payload: b,
    })
}

/// Checks a topic filter: not empty, `+` and `#` only as whole levels, `#` only last.
///
/// # Errors
/// [`PacketError::TopicFilter`].
pub fn check_filter(filter: &str) -> Result<(), PacketError> {
    let bad = || PacketError::TopicFilter(filter.to_string());
    if filter.is_empty() {
        return Err(bad());
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        match level {
            "+" => {}
            "#" if last => {}
            l if l.contains(['+', '#']) => return Err(bad()),
            _ => {}
        }
    }
    Ok(())
}

fn remaining_length(mut len: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (len % 128) as u8;
        len /= 128;
        if len == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// CONNACK with return code `code` (0: accepted).
#[must_use]
pub fn connack(code: u8) -> Bytes {
    Bytes::from(vec![0x20, 2, 0, code])
}

/// PUBACK for `pkid`.
#[must_use]
pub fn puback(pkid: u16) -> Bytes {
    let [a, b] = pkid.to_be_bytes();
    Bytes::from(vec![0x40, 2, a, b])
}

/// SUBACK for `pkid` with one return code per filter.
#[must_use]
pub fn suback(pkid: u16, codes: &[u8]) -> Bytes {
    let mut out = vec![0x90];
    remaining_length(2 + codes.len(), &mut out);
    out.extend_from_slice(&pkid.to_be_bytes());
    out.extend_from_slice(codes);
    Bytes::from(out)
}

/// UNSUBACK for `pkid`.
#[must_use]
pub fn unsuback(pkid: u16) -> Bytes {
    let [a, b] = pkid.to_be_bytes();
    Bytes::from(vec![0xb0, 2, a, b])
}

/// PINGRESP.
#[must_use]
pub fn pingresp() -> Bytes {
    Bytes::from_static(&[0xd0, 0])
}

/// Appends a PUBLISH of `payload` on `topic` to `out` (`pkid` only with QoS 1).
pub fn publish_into(topic: &[u8], payload: &[u8], qos: u8, pkid: u16, out: &mut Vec<u8>) {
    out.push(0x30 | (qos.min(1) << 1));
    let id = if qos > 0 { 2 } else { 0 };
    remaining_length(2 + topic.len() + id + payload.len(), out);
    out.extend_from_slice(&u16::try_from(topic.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(topic);
    if qos > 0 {
        out.extend_from_slice(&pkid.to_be_bytes());
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(bytes: &[u8]) -> Result<Option<Packet>, PacketError> {
        decode(&mut BytesMut::from(bytes), 1_024)
    }

    #[test]
    fn decodes_what_rumqttc_encodes() {
        use rumqttc::mqttbytes::v4;
        let mut buf = BytesMut::new();
        let mut c = v4::Connect::new("dev-1");
        c.keep_alive = 30;
        c.login = Some(v4::Login::new("u", "p"));
        c.last_will = Some(v4::LastWill::new(
            "w",
            vec![1u8; 3],
            rumqttc::QoS::AtMostOnce,
            false,
        ));
        c.write(&mut buf).unwrap();
        let mut p = v4::Publish::new("a/b", rumqttc::QoS::AtLeastOnce, vec![7u8; 5]);
        p.pkid = 9;
        p.write(&mut buf).unwrap();
        v4::Subscribe::new("a/+/c", rumqttc::QoS::ExactlyOnce)
            .write(&mut buf)
            .unwrap();
        v4::PingReq.write(&mut buf).unwrap();
        // Split anywhere: a prefix is never a packet.
        let whole = buf.clone();
        for cut in 0..whole.len() {
            let mut part = BytesMut::from(&whole[..cut]);
            while let Ok(Some(_)) = decode(&mut part, 1_024) {}
            assert!(decode(&mut part, 1_024).unwrap().is_none());
        }
        let Some(Packet::Connect(c)) = decode(&mut buf, 1_024).unwrap() else {
            panic!("not a connect");
        };
        assert_eq!(
            (c.level, c.client_id.as_str(), c.keep_alive, c.clean_session),
            (4, "dev-1", 30, true)
        );
        assert_eq!(
            (c.username.as_deref(), c.password.as_deref()),
            (Some("u"), Some(&b"p"[..]))
        );
        let Some(Packet::Publish(p)) = decode(&mut buf, 1_024).unwrap() else {
            panic!("not a publish");
        };
        assert_eq!((p.topic_str(), p.qos, p.pkid), ("a/b", 1, 9));
        assert_eq!(&p.payload[..], &[7u8; 5]);
        assert!(matches!(
            decode(&mut buf, 1_024).unwrap(),
            Some(Packet::Subscribe(_, f)) if f == vec![("a/+/c".to_string(), 2)]
        ));
        assert_eq!(decode(&mut buf, 1_024).unwrap(), Some(Packet::PingReq));
        assert!(buf.is_empty());
    }

    #[test]
    fn refuses_bad_packets_with_the_reason() {
        assert_eq!(
            one(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(PacketError::LengthTooLong)
        );
        assert_eq!(
            one(&[0x30, 0xff, 0x7f]),
            Err(PacketError::TooLarge {
                size: 16_386,
                limit: 1_024
            })
        );
        assert_eq!(
            one(&[0x50, 0x02, 0, 1]),
            Err(PacketError::UnexpectedType(5))
        );
        assert_eq!(
            one(&[0xc1, 0x00]),
            Err(PacketError::Flags { kind: 12, flags: 1 })
        );
        assert_eq!(one(&[0x34, 0x03, 0, 1, b'a']), Err(PacketError::QoS(2)));
        assert_eq!(
            one(&[0x30, 0x03, 0, 1, b'+']),
            Err(PacketError::TopicName("+".into()))
        );
        assert_eq!(
            one(&[0x30, 0x03, 0, 5, b'a']),
            Err(PacketError::Truncated("topic name"))
        );
        assert_eq!(
            one(&[0x32, 0x05, 0, 1, b'a', 0, 0]),
            Err(PacketError::Empty("packet id"))
        );
        assert_eq!(
            one(&[0x30, 0x03, 0, 1, 0xff]),
            Err(PacketError::Utf8("topic name"))
        );
        assert_eq!(
            one(&[0x82, 0x02, 0, 1]),
            Err(PacketError::Empty("SUBSCRIBE filter list"))
        );
        assert_eq!(
            one(&[0x82, 0x06, 0, 1, 0, 2, b'a', b'#']),
            Err(PacketError::TopicFilter("a#".into()))
        );
        assert_eq!(
            one(&[0x10, 0x08, 0, 4, b'M', b'Q', b'T', b'T', 5, 0]),
            Err(PacketError::Protocol {
                name: "MQTT".into(),
                level: 5
            })
        );
    }

    #[test]
    fn filters_use_wildcards_only_as_whole_levels() {
        for ok in ["a", "a/b", "+", "#", "a/+/c", "a/#", "+/+/#", "/", "a//b"] {
            assert_eq!(check_filter(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a/#/b", "a+", "a/b#", "#/a", "a/++"] {
            assert_eq!(
                check_filter(bad),
                Err(PacketError::TopicFilter(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn encodes_what_rumqttc_decodes() {
        use rumqttc::mqttbytes::v4::Packet as P;
        let mut out = Vec::new();
        publish_into(b"x/y", &[1u8; 200], 1, 77, &mut out);
        publish_into(b"x/z", b"q0", 0, 0, &mut out);
        out.extend_from_slice(&connack(0));
        out.extend_from_slice(&puback(3));
        out.extend_from_slice(&suback(4, &[0, 1, 0x80]));
        out.extend_from_slice(&unsuback(5));
        out.extend_from_slice(&pingresp());
        let mut b = BytesMut::from(&out[..]);
        let mut got = Vec::new();
        while !b.is_empty() {
            got.push(P::read(&mut b, 1 << 20).unwrap());
        }
        assert!(
            matches!(&got[0], P::Publish(p) if p.topic == "x/y" && p.pkid == 77 && p.payload.len() == 200)
        );
        assert!(
            matches!(&got[1], P::Publish(p) if p.topic == "x/z" && p.qos == rumqttc::QoS::AtMostOnce && &p.payload[..] == b"q0")
        );
        assert!(matches!(&got[2], P::ConnAck(_)));
        assert!(matches!(&got[3], P::PubAck(a) if a.pkid == 3));
        assert!(matches!(&got[4], P::SubAck(s) if s.pkid == 4 && s.return_codes.len() == 3));
        assert!(matches!(&got[5], P::UnsubAck(u) if u.pkid == 5));
        assert!(matches!(&got[6], P::PingResp));
    }
}
