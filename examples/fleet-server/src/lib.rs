//! `fleet-server`: the fleet-ops backend as a service.
//!
//! Devices speak MQTT ([`topic`], [`wire`]); the service decodes their telemetry into the
//! in-memory fleet ([`fleet`]), commits it to SQLite or PostgreSQL ([`db`]) and only then
//! acknowledges it ([`ingest`]); rollouts are decided on a schedule from stored evidence and
//! applied only to the state they were computed for ([`rollout`]); operators use the HTTP API
//! ([`api`]). After a crash everything in memory is rebuilt from the database ([`persist`]).
#![forbid(unsafe_code)]

pub mod alerts;
pub mod api;
pub mod auth;
pub mod broker;
pub mod client;
pub mod clock;
pub mod dashboard;
pub mod db;
pub mod device;
pub mod fleet;
pub mod ingest;
pub mod metrics;
pub mod mqtt;
pub mod offers;
pub mod persist;
pub mod release;
pub mod rollout;
pub mod sequence;
pub mod service;
pub mod topic;
pub mod wire;
