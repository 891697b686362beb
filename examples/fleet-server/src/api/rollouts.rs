//! `/v1/rollouts`: start, read, pause, resume, abort; the decision log.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::{ApiError, Json, Operator, Path, Reader};

use crate::rollout::{self, Applied, Change, NewRollout, Proposal, RolloutError};
use crate::service::Shared;

impl From<RolloutError> for ApiError {
    fn from(e: RolloutError) -> Self {
        match e {
            RolloutError::Db(d) => d.into(),
            RolloutError::NotFound(_) => ApiError::not_found(e.to_string()),
            RolloutError::Stale { .. }
            | RolloutError::Active { .. }
            | RolloutError::State(_)
            | RolloutError::Refused(
                rollout_policy::state::ApplyError::Stale { .. }
                | rollout_policy::state::ApplyError::NotApplicable { .. },
            ) => ApiError::conflict(e.to_string()),
            RolloutError::NoRelease(_) | RolloutError::SameRelease(_) | RolloutError::Plan(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            RolloutError::Release(r) => r.into(),
            other => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, other.to_string()),
        }
    }
}

pub(super) async fn create(
    _: Operator,
    State(shared): State<Arc<Shared>>,
    Json(new): Json<NewRollout>,
) -> Result<(StatusCode, axum::Json<rollout::RolloutRow>), ApiError> {
    let mut key = [0u8; 16];
    ota_core::keys::random_bytes(&mut key)
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let now = crate::clock::now_unix();
    let row = shared
        .db
        .write(move |c| rollout::create(c, &new, key, now))
        .await?;
    shared.refresh_cache().await;
    Ok((StatusCode::CREATED, axum::Json(row)))
}

pub(super) async fn list(
    _: Reader,
    State(shared): State<Arc<Shared>>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let rows = shared.db.read(|c| rollout::list(c, 100)).await?;
    Ok(axum::Json(serde_json::json!({"rollouts": rows})))
}

pub(super) async fn get(
    _: Reader,
    State(shared): State<Arc<Shared>>,
    Path(id): Path<i64>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let (row, evidence, directive) = shared
        .db
        .read(move |c| {
            let row = rollout::get(c, id)?.ok_or(RolloutError::NotFound(id))?;
            let evidence = rollout::evidence(c, &row, crate::clock::now_unix())?;
            let directive = rollout::get_directive(c, id)?;
            Ok::<_, RolloutError>((row, evidence, directive))
        })
        .await?;
    Ok(axum::Json(serde_json::json!({
        "rollout": row,
        "evidence": evidence,
        "directive": directive,
    })))
}

pub(super) async fn decisions(
    _: Reader,
    State(shared): State<Arc<Shared>>,
    Path(id): Path<i64>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let rows = shared
        .db
        .read(move |c| {
            rollout::get(c, id)?.ok_or(RolloutError::NotFound(id))?;
            rollout::decisions(c, id)
        })
        .await?;
    Ok(axum::Json(serde_json::json!({"decisions": rows})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CommandBody {
    /// Apply only if the rollout is still at this state version.
    expected_version: Option<i64>,
}

pub(super) async fn command(
    _: Operator,
    State(shared): State<Arc<Shared>>,
    Path((id, name)): Path<(i64, String)>,
    body: axum::body::Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let Some(cmd) = rollout::parse_command(&name) else {
        return Err(ApiError::not_found(format!(
            "no command {name:?}: use pause, resume or abort"
        )));
    };
    let expected = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<CommandBody>(&body)
            .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?
            .expected_version
    };
    let keys = shared.keys.clone();
    let now = crate::clock::now_unix();
    let applied = shared
        .db
        .write(move |c| {
            let row = rollout::get(c, id)?.ok_or(RolloutError::NotFound(id))?;
            let p = Proposal {
                rollout: id,
                based_on: expected.unwrap_or(row.version),
                change: Change::Command(cmd),
                at: now,
            };
            rollout::apply(c, &keys, &p)
        })
        .await?;
    shared.refresh_cache().await;
    let version = match &applied {
        Applied::Changed { version, .. } => Some(*version),
        Applied::Unchanged => None,
    };
    Ok(axum::Json(
        serde_json::json!({"rollout": id, "command": name, "version": version}),
    ))
}
