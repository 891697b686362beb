//! `/v1/releases` and `/v1/sequences`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use serde::Deserialize;

use super::{ApiError, Json, Operator, Path, Query, Reader};
use crate::release::{self, NewRelease, ReleaseError};
use crate::sequence::{self, SequenceError};
use crate::service::Shared;

fn b64(what: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| ApiError::bad_request(format!("{what} is not standard base64: {e}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Delta {
    base_release_id: i64,
    patch: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Create {
    envelope: String,
    image: String,
    chunk_size: Option<u32>,
    delta: Option<Delta>,
}

impl From<ReleaseError> for ApiError {
    fn from(e: ReleaseError) -> Self {
        match e {
            ReleaseError::Db(d) => d.into(),
            ReleaseError::Sequence(SequenceError::Db(d)) => d.into(),
            ReleaseError::Sequence(s) => ApiError::conflict(s.to_string()),
            ReleaseError::NotFound(_) | ReleaseError::UnknownBase(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
        }
    }
}

pub(super) async fn create(
    _: Operator,
    State(shared): State<Arc<Shared>>,
    Json(req): Json<Create>,
) -> Result<(StatusCode, axum::Json<release::ReleaseInfo>), ApiError> {
    let envelope = b64("envelope", &req.envelope)?;
    let image = b64("image", &req.image)?;
    if image.len() > release::MAX_IMAGE_LEN {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "image is {} bytes, more than {}",
                image.len(),
                release::MAX_IMAGE_LEN
            ),
        ));
    }
    let delta = match req.delta {
        Some(d) => Some((d.base_release_id, b64("delta.patch", &d.patch)?)),
        None => None,
    };
    let new = NewRelease {
        envelope,
        image,
        delta,
        chunk_size: req.chunk_size.unwrap_or(4_096),
    };
    let keys = shared.keys.clone();
    let now = crate::clock::now_unix();
    let info = shared
        .db
        .write(move |c| release::create(c, &keys, &new, now))
        .await?;
    shared.refresh_cache().await;
    Ok((StatusCode::CREATED, axum::Json(info)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Page {
    before: Option<i64>,
    limit: Option<i64>,
}

pub(super) async fn list(
    _: Reader,
    State(shared): State<Arc<Shared>>,
    Query(p): Query<Page>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit {limit} must be 1..=500"
        )));
    }
    let releases = shared
        .db
        .read(move |c| release::list(c, p.before, limit))
        .await?;
    Ok(axum::Json(serde_json::json!({"releases": releases})))
}

pub(super) async fn get(
    _: Reader,
    State(shared): State<Arc<Shared>>,
    Path(id): Path<i64>,
) -> Result<axum::Json<release::ReleaseInfo>, ApiError> {
    shared
        .db
        .read(move |c| release::get(c, id))
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::not_found(format!("release {id} does not exist")))
}

pub(super) async fn reserve(
    _: Operator,
    State(shared): State<Arc<Shared>>,
) -> Result<(StatusCode, axum::Json<serde_json::Value>), ApiError> {
    let now = crate::clock::now_unix();
    let s = shared
        .db
        .write(move |c| sequence::allocate(c, "reserved", None, now))
        .await
        .map_err(|e| match e {
            SequenceError::Db(d) => ApiError::from(d),
            other => ApiError::conflict(other.to_string()),
        })?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({"sequence": s})),
    ))
}

pub(super) async fn sequences(
    _: Reader,
    State(shared): State<Arc<Shared>>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let (issued, next) = shared
        .db
        .read(|c| Ok::<_, crate::db::DbError>((sequence::issued(c)?, sequence::next(c)?)))
        .await?;
    Ok(axum::Json(
        serde_json::json!({"next": next, "issued": issued}),
    ))
}
