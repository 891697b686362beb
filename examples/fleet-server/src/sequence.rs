//! The monotonic manifest-sequence allocator.
//!
//! Devices accept a manifest only with a sequence above the last they accepted, so two
//! different manifests must never share one. Every sequence the service uses comes from this
//! table, inside the transaction that stores what uses it: a release signed elsewhere *claims*
//! its sequence (refused when the allocator has passed it), and a rollback re-issue *allocates*
//! the next one. `issued_sequences` has the sequence as its primary key, so even a bug above
//! this module cannot store a sequence twice.

use crate::db::{Conn, DbError, Val};

/// Why a sequence cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SequenceError {
    /// The allocator already passed it (issued, or older than something issued).
    #[error(
        "manifest sequence {sequence} is already issued or below the allocator's next free sequence {next}; sign with a sequence of at least {next} (POST /v1/sequences reserves one)"
    )]
    Used {
        /// Requested.
        sequence: u64,
        /// The next free one.
        next: u64,
    },
    /// Sequences are signed as `u64` but stored as `BIGINT`: at most `i64::MAX`.
    #[error("manifest sequence {0} is above the largest storable sequence {max}", max = i64::MAX)]
    TooLarge(u64),
    /// The database's.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The next free sequence.
///
/// # Errors
/// The database's.
pub fn next(c: &mut dyn Conn) -> Result<u64, DbError> {
    let row = c.query_opt(
        "SELECT next_sequence FROM sequence_allocator WHERE id = 1",
        &[],
    )?;
    Ok(row.map_or(Ok(1), |r| r.int(0))?.max(1) as u64)
}

fn record(
    c: &mut dyn Conn,
    sequence: u64,
    purpose: &str,
    release: Option<i64>,
    now: u64,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO issued_sequences (sequence, purpose, release_id, issued_at) VALUES ($1, $2, $3, $4)",
        &[Val::from(sequence), Val::from(purpose), Val::from(release), Val::from(now)],
    )?;
    Ok(())
}

/// Allocates the next sequence for `purpose` (call inside the transaction that uses it).
///
/// # Errors
/// The database's.
pub fn allocate(
    c: &mut dyn Conn,
    purpose: &str,
    release: Option<i64>,
    now: u64,
) -> Result<u64, SequenceError> {
    let sequence = next(c)?;
    if sequence > i64::MAX as u64 - 1 {
        return Err(SequenceError::TooLarge(sequence));
    }
    c.execute(
        "UPDATE sequence_allocator SET next_sequence = $1 WHERE id = 1",
        &[Val::from(sequence + 1)],
    )?;
    record(c, sequence, purpose, release, now)?;
    Ok(sequence)
}

/// Claims `sequence` (signed elsewhere) for `purpose`: it must be at least the next free one.
///
/// # Errors
/// [`SequenceError::Used`] when the allocator passed it.
pub fn claim(
    c: &mut dyn Conn,
    sequence: u64,
    purpose: &str,
    release: Option<i64>,
    now: u64,
) -> Result<(), SequenceError> {
    if sequence > i64::MAX as u64 - 1 {
        return Err(SequenceError::TooLarge(sequence));
    }
    let next = next(c)?;
    if sequence < next {
        // A sequence reserved with `POST /v1/sequences` (and not used yet) may be claimed once.
        let taken = c.execute(
            "UPDATE issued_sequences SET purpose = $1, release_id = $2 WHERE sequence = $3 AND purpose = 'reserved' AND release_id IS NULL",
            &[Val::from(purpose), Val::from(release), Val::from(sequence)],
        )?;
        return if taken == 1 {
            Ok(())
        } else {
            Err(SequenceError::Used { sequence, next })
        };
    }
    c.execute(
        "UPDATE sequence_allocator SET next_sequence = $1 WHERE id = 1",
        &[Val::from(sequence + 1)],
    )?;
    record(c, sequence, purpose, release, now)?;
    Ok(())
}

/// Attaches the release that used `sequence` (the release row is written after the claim).
///
/// # Errors
/// The database's.
pub fn attach(c: &mut dyn Conn, sequence: u64, release: i64) -> Result<(), DbError> {
    c.execute(
        "UPDATE issued_sequences SET release_id = $1 WHERE sequence = $2",
        &[Val::Int(release), Val::from(sequence)],
    )?;
    Ok(())
}

/// One issued sequence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issued {
    /// The sequence.
    pub sequence: u64,
    /// What for (`release`, `rollback re-issue`, `reserved`).
    pub purpose: String,
    /// The release that uses it.
    pub release_id: Option<i64>,
    /// Unix seconds.
    pub issued_at: u64,
}

/// Every issued sequence, oldest first.
///
/// # Errors
/// The database's.
pub fn issued(c: &mut dyn Conn) -> Result<Vec<Issued>, DbError> {
    c.query(
        "SELECT sequence, purpose, release_id, issued_at FROM issued_sequences ORDER BY sequence",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(Issued {
            sequence: r.u64(0)?,
            purpose: r.text(1)?,
            release_id: r.opt_int(2)?,
            issued_at: r.u64(3)?,
        })
    })
    .collect()
}
