//! Per-component status for a public status page, derived from the alerts that fire.
//!
//! Each [`super::alert::AlertRule`] names the [`Component`] it affects. A component is in
//! [`ComponentStatus::Outage`] while a critical rule for it fires, [`ComponentStatus::Degraded`]
//! while a warning fires, and [`ComponentStatus::Operational`] otherwise (informational rules
//! do not change the status). The result is plain data (serde) for any page renderer.

extern crate std;

use std::string::String;
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use super::alert::{AlertEngine, Severity};

/// A part of the service customers can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Devices reaching the cloud.
    DeviceConnectivity,
    /// Telemetry ingest and dashboards.
    Ingest,
    /// Firmware updates.
    Ota,
}

impl Component {
    /// Every component, in page order.
    pub const ALL: [Self; 3] = [Self::DeviceConnectivity, Self::Ingest, Self::Ota];
}

/// Health of one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    /// Working.
    Operational,
    /// Working with problems.
    Degraded,
    /// Not working.
    Outage,
}

/// One line of the status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentReport {
    /// The component.
    pub component: Component,
    /// Its status.
    pub status: ComponentStatus,
    /// Names of the rules that set it.
    pub because: Vec<String>,
}

/// The whole status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSummary {
    /// One report per component, in [`Component::ALL`] order.
    pub components: Vec<ComponentReport>,
}

impl StatusSummary {
    /// Derives the status of every component from the rules firing in `engine`.
    #[must_use]
    pub fn from_alerts(engine: &AlertEngine) -> Self {
        let components = Component::ALL
            .iter()
            .map(|&component| {
                let mut status = ComponentStatus::Operational;
                let mut because = Vec::new();
                for rule in engine.firing().filter(|r| r.component == component) {
                    let s = match rule.severity {
                        Severity::Critical => ComponentStatus::Outage,
                        Severity::Warning => ComponentStatus::Degraded,
                        Severity::Info => continue,
                    };
                    status = status.max(s);
                    because.push(rule.name.clone());
                }
                ComponentReport {
                    component,
                    status,
                    because,
                }
            })
            .collect();
        Self { components }
    }

    /// Status of one component.
    #[must_use]
    pub fn status(&self, component: Component) -> ComponentStatus {
        self.components
            .iter()
            .find(|c| c.component == component)
            .map_or(ComponentStatus::Operational, |c| c.status)
    }

    /// The worst status over all components.
    #[must_use]
    pub fn overall(&self) -> ComponentStatus {
        self.components
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(ComponentStatus::Operational)
    }
}
