//! What a device is offered when it checks in (`up/hello`), decided in the transaction that
//! records the offer, from a cache of the live rollouts.
//!
//! A device is offered a rollout's release when its cohort bucket is below the rollout's open
//! threshold, it is in the target, it does not run the release already, its accepted sequence is
//! below the release's, and it has not failed this rollout. New offers are made only while the
//! rollout runs (and within the plan's rate limit); a device offered before a pause is sent its
//! offer again. After an abort, devices of the rollout that run the aborted version get the
//! rollback directive and the re-issued previous release.

use std::sync::Arc;

use rollout_policy::state::Phase;
use rollout_policy::time::Timestamp;

use crate::db::{Conn, DbError, Val};
use crate::release::{self, ReleaseInfo};
use crate::rollout::{self, DirectiveRow, RolloutRow, device_bucket};
use crate::topic::Down;
use crate::wire::{self, Hello, Offer, PayloadKind, Rollback, RollbackKind};

/// Messages for one device: (kind, payload).
pub type Downlinks = Vec<(Down, Vec<u8>)>;

/// A release with its envelope, ready to offer.
#[derive(Debug, Clone)]
pub struct Offerable {
    /// The release.
    pub info: ReleaseInfo,
    /// Its signed envelope.
    pub envelope: Arc<Vec<u8>>,
}

/// A rollout as the offer path needs it.
#[derive(Debug, Clone)]
pub struct LiveRollout {
    /// The stored rollout.
    pub row: RolloutRow,
    /// Its release.
    pub release: Offerable,
    /// After an abort: the directive and the re-issue.
    pub directive: Option<(DirectiveRow, Option<Offerable>)>,
}

/// The live rollouts and the newest sunset notice; rebuilt after every change.
#[derive(Debug, Clone, Default)]
pub struct Cache {
    /// Newest first.
    pub rollouts: Vec<LiveRollout>,
    /// (sequence, signed notice bytes).
    pub notice: Option<(u64, Arc<Vec<u8>>)>,
}

fn offerable(c: &mut dyn Conn, id: i64) -> Result<Option<Offerable>, DbError> {
    let Some(info) = release::get(c, id)? else {
        return Ok(None);
    };
    let envelope = release::envelope(c, id)?.unwrap_or_default();
    Ok(Some(Offerable {
        info,
        envelope: Arc::new(envelope),
    }))
}

/// Loads the cache.
///
/// # Errors
/// The database's.
pub fn load(c: &mut dyn Conn) -> Result<Cache, rollout::RolloutError> {
    let mut rollouts = Vec::new();
    for row in rollout::live(c)? {
        let Some(release) = offerable(c, row.release_id)? else {
            continue;
        };
        let directive = match rollout::get_directive(c, row.id)? {
            Some(d) => {
                let reissue = match d.reissue_release_id {
                    Some(id) => offerable(c, id)?,
                    None => None,
                };
                Some((d, reissue))
            }
            None => None,
        };
        rollouts.push(LiveRollout {
            row,
            release,
            directive,
        });
    }
    let notice = c
        .query_opt(
            "SELECT sequence, body FROM notices ORDER BY sequence DESC LIMIT 1",
            &[],
        )?
        .map(|r| -> Result<_, DbError> { Ok((r.u64(0)?, Arc::new(r.blob(1)?))) })
        .transpose()?;
    Ok(Cache { rollouts, notice })
}

fn offer_message(o: &Offerable) -> Option<Vec<u8>> {
    let p = o
        .info
        .payloads
        .iter()
        .find(|p| p.kind == PayloadKind::Full)?;
    Some(wire::encode(&Offer {
        release: u32::try_from(o.info.id).ok()?,
        sequence: o.info.sequence,
        kind: PayloadKind::Full,
        size: u32::try_from(p.size).ok()?,
        chunk_size: p.chunk_size,
        chunks: p.chunks,
        envelope: &o.envelope,
    }))
}

/// Records a check-in and returns what to send the device. Call inside a write transaction.
///
/// # Errors
/// The database's.
pub fn hello(
    c: &mut dyn Conn,
    cache: &Cache,
    device: u64,
    hardware: &str,
    hello: &Hello,
    now: u64,
) -> Result<Downlinks, DbError> {
    c.execute(
        "UPDATE devices SET running_version = $1,
            accepted_sequence = CASE WHEN accepted_sequence < $2 THEN $2 ELSE accepted_sequence END,
            security_floor = $3, notice_sequence = $4, last_hello_at = $5 WHERE id = $6",
        &[
            Val::from(hello.running.to_string()),
            Val::from(hello.accepted_sequence),
            Val::from(hello.security_floor),
            Val::from(hello.notice_sequence),
            Val::from(now),
            Val::from(device),
        ],
    )?;
    let mut out = Vec::new();
    if let Some((sequence, body)) = &cache.notice
        && *sequence > hello.notice_sequence
    {
        out.push((Down::Notice, body.as_ref().clone()));
    }
    for live in &cache.rollouts {
        if let Some(msg) = for_rollout(c, live, device, hardware, hello, now)? {
            out.extend(msg);
            break;
        }
    }
    Ok(out)
}

fn outcome(c: &mut dyn Conn, rollout: i64, device: u64) -> Result<Option<Option<String>>, DbError> {
    c.query_opt(
        "SELECT outcome FROM rollout_devices WHERE rollout_id = $1 AND device_id = $2",
        &[Val::Int(rollout), Val::from(device)],
    )?
    .map(|r| r.opt_text(0))
    .transpose()
}

fn for_rollout(
    c: &mut dyn Conn,
    live: &LiveRollout,
    device: u64,
    hardware: &str,
    hello: &Hello,
    now: u64,
) -> Result<Option<Downlinks>, DbError> {
    let row = &live.row;
    if !row.target.includes(hardware) {
        return Ok(None);
    }
    let release = &live.release.info;
    let state = &row.state;
    if let Phase::Aborted { .. } = state.phase {
        let Some((directive, reissue)) = &live.directive else {
            return Ok(None);
        };
        let runs_aborted = hello.running == release.wire_version();
        if !runs_aborted || outcome(c, row.id, device)?.is_none() {
            return Ok(None);
        }
        let (action, to) = match (directive.directive.action, reissue) {
            (rollout_policy::rollback::RollbackAction::Reinstall, Some(re)) => {
                if hello.accepted_sequence >= re.info.sequence {
                    return Ok(None);
                }
                (RollbackKind::Reinstall, Some(re))
            }
            (rollout_policy::rollback::RollbackAction::FixForwardRequired { floor }, _) => {
                (RollbackKind::FixForward { floor }, None)
            }
            _ => return Ok(None),
        };
        let msg = Rollback {
            from_release: u32::try_from(release.id).unwrap_or(0),
            to_release: to.map_or(0, |t| u32::try_from(t.info.id).unwrap_or(0)),
            sequence: directive.sequence.unwrap_or(0),
            action,
        };
        let mut out = vec![(Down::Rollback, wire::encode(&msg))];
        if let Some(offer) = to.and_then(offer_message) {
            out.push((Down::Offer, offer));
        }
        return Ok(Some(out));
    }
    let open = matches!(state.phase, Phase::Running { .. } | Phase::Paused { .. });
    if !open
        || hello.running == release.wire_version()
        || hello.accepted_sequence >= release.sequence
        || device_bucket(&state.key, device) >= state.threshold_bp
    {
        return Ok(None);
    }
    match outcome(c, row.id, device)? {
        // Failed (or finished) this rollout: never offered again.
        Some(Some(o)) if o != "started" => return Ok(None),
        Some(_) => {}
        None => {
            if !matches!(state.phase, Phase::Running { .. }) {
                return Ok(None);
            }
            if let Some(budget) = state.offer_budget(&row.plan, Timestamp(now)) {
                let offered = c
                    .query_opt(
                        "SELECT CAST(COUNT(*) AS BIGINT) FROM rollout_devices WHERE rollout_id = $1 AND bucket >= $2",
                        &[Val::Int(row.id), Val::from(row.stage_lo_bp)],
                    )?
                    .map_or(Ok(0), |r| r.int(0))?;
                if offered as u64 >= budget {
                    return Ok(None);
                }
            }
            c.execute(
                "INSERT INTO rollout_devices (rollout_id, device_id, bucket, offered_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[
                    Val::Int(row.id),
                    Val::from(device),
                    Val::from(device_bucket(&state.key, device)),
                    Val::from(now),
                ],
            )?;
        }
    }
    Ok(offer_message(&live.release).map(|m| vec![(Down::Offer, m)]))
}
