//! Recycling and disposal information, and the customer text of a sunset notice.
//!
//! The end of a product is also a physical one: batteries, hazardous parts and a take-back
//! programme. [`RecyclingInfo`] holds them as structured data; [`notice_text`] renders a signed
//! notice's body together with them into the plain text customers receive (e-mail, app, web).

extern crate std;

use core::fmt::Write as _;
use std::string::String;
use std::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::capability::Capability;
use crate::notice::{NoticeBody, NoticeKind};

/// Battery chemistry (decides the recycling stream).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BatteryChemistry {
    /// Rechargeable lithium-ion.
    LithiumIon,
    /// Lithium-ion polymer pouch.
    LithiumPolymer,
    /// Lithium iron phosphate.
    LithiumIronPhosphate,
    /// Primary (non-rechargeable) lithium, e.g. CR2032.
    LithiumPrimary,
    /// Nickel-metal hydride.
    NickelMetalHydride,
    /// Alkaline.
    Alkaline,
    /// Anything else, named.
    Other(String),
}

impl BatteryChemistry {
    fn label(&self) -> &str {
        match self {
            BatteryChemistry::LithiumIon => "lithium-ion",
            BatteryChemistry::LithiumPolymer => "lithium-ion polymer",
            BatteryChemistry::LithiumIronPhosphate => "lithium iron phosphate",
            BatteryChemistry::LithiumPrimary => "lithium (non-rechargeable)",
            BatteryChemistry::NickelMetalHydride => "nickel-metal hydride",
            BatteryChemistry::Alkaline => "alkaline",
            BatteryChemistry::Other(s) => s,
        }
    }
}

/// A battery in the product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Battery {
    /// Chemistry.
    pub chemistry: BatteryChemistry,
    /// Rated capacity in mAh.
    pub capacity_mah: u32,
    /// Nominal voltage in mV.
    pub nominal_mv: u32,
    /// Whether the owner can remove it without tools.
    pub user_removable: bool,
}

impl Battery {
    /// Energy in milliwatt-hours (capacity x nominal voltage).
    pub fn energy_mwh(&self) -> u64 {
        u64::from(self.capacity_mah) * u64::from(self.nominal_mv) / 1000
    }
}

/// A part that needs special handling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardousPart {
    /// The part ("display backlight").
    pub part: String,
    /// What makes it hazardous ("mercury", "electrolytic capacitor").
    pub substance: String,
    /// How to handle it.
    pub handling: String,
}

/// The manufacturer's take-back programme.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeBack {
    /// Programme name.
    pub programme: String,
    /// Where to start.
    pub url: String,
    /// Whether returning the product is free.
    pub free_of_charge: bool,
}

/// Recycling and disposal information for a product.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecyclingInfo {
    /// Batteries.
    pub batteries: Vec<Battery>,
    /// Parts needing special handling.
    pub hazardous: Vec<HazardousPart>,
    /// Take-back programme.
    pub take_back: Option<TakeBack>,
}

/// The customer text for a sunset notice and the product's recycling information.
pub fn notice_text(product_name: &str, notice: &NoticeBody, recycling: &RecyclingInfo) -> String {
    let mut t = String::new();
    let d = &notice.dates;
    // Writing to a String cannot fail.
    let _ = writeln!(
        t,
        "{product_name}: end of service notice (no. {})",
        notice.sequence
    );
    let _ = writeln!(t);
    if notice.kind == NoticeKind::Shutdown {
        let _ = writeln!(
            t,
            "This is a shutdown notice: earlier published dates are replaced."
        );
    }
    let _ = writeln!(t, "- New features end on {}.", d.security_only_from);
    let _ = writeln!(
        t,
        "- Security updates continue until {}.",
        d.end_of_security_updates
    );
    let _ = writeln!(t, "- The cloud service ends on {}.", d.end_of_cloud);
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "After the cloud service ends, your device keeps working locally:"
    );
    let _ = writeln!(
        t,
        "- local control (buttons, schedules, the app on your home network)"
    );
    if notice.keeps_local.contains(Capability::LocalApi) {
        let _ = writeln!(t, "- the local API, for home automation systems");
    }
    if notice.keeps_local.contains(Capability::DataExport) {
        let _ = writeln!(t, "- exporting your data from the device");
    }
    let _ = writeln!(t, "Remote control and cloud sync stop.");
    let _ = writeln!(t);
    let _ = writeln!(t, "Your data: {}", notice.export_instructions);
    if let Some(v) = notice.final_firmware {
        let _ = writeln!(
            t,
            "Final firmware: {}.{}.{}; install it before the cloud ends.",
            v.major, v.minor, v.patch
        );
    }
    if let Some(day) = notice.owner_release {
        let _ = writeln!(
            t,
            "From {day} you can install your own update key, so the community can keep the device alive."
        );
    }
    if !recycling.batteries.is_empty()
        || !recycling.hazardous.is_empty()
        || recycling.take_back.is_some()
    {
        let _ = writeln!(t);
        let _ = writeln!(t, "Recycling and disposal:");
    }
    for b in &recycling.batteries {
        let _ = writeln!(
            t,
            "- Battery: {}, {} mAh, {}.{:02} Wh, {}. Do not put it in household waste.",
            b.chemistry.label(),
            b.capacity_mah,
            b.energy_mwh() / 1000,
            b.energy_mwh() % 1000 / 10,
            if b.user_removable {
                "removable by hand"
            } else {
                "built in: leave it in the device"
            }
        );
    }
    for h in &recycling.hazardous {
        let _ = writeln!(t, "- {} contains {}: {}", h.part, h.substance, h.handling);
    }
    if let Some(tb) = &recycling.take_back {
        let cost = if tb.free_of_charge {
            "free of charge"
        } else {
            "a fee may apply"
        };
        let _ = writeln!(
            t,
            "- Return it through {} ({cost}): {}",
            tb.programme, tb.url
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::CapabilitySet;
    use crate::date::Day;
    use crate::notice::{FirmwareVersion, ProductId, SunsetDates};

    #[test]
    fn text_carries_dates_plan_and_recycling() {
        let day = |y, m, d| Day::from_ymd(y, m, d).unwrap();
        let notice = NoticeBody {
            sequence: 3,
            product: ProductId {
                vendor: 1,
                product: 2,
            },
            kind: NoticeKind::Update,
            issued_at: 0,
            dates: SunsetDates {
                security_only_from: day(2030, 1, 1),
                end_of_security_updates: day(2031, 1, 1),
                end_of_cloud: day(2031, 6, 30),
            },
            owner_release: Some(day(2031, 7, 1)),
            keeps_local: CapabilitySet::of(&[Capability::DataExport]),
            final_firmware: Some(FirmwareVersion {
                major: 4,
                minor: 2,
                patch: 1,
            }),
            export_instructions: "Settings > Export, or https://example.com/export"
                .try_into()
                .unwrap(),
        };
        let info = RecyclingInfo {
            batteries: vec![Battery {
                chemistry: BatteryChemistry::LithiumIon,
                capacity_mah: 2500,
                nominal_mv: 3700,
                user_removable: false,
            }],
            hazardous: vec![HazardousPart {
                part: "Smoke sensor".into(),
                substance: "americium-241".into(),
                handling: "return to the manufacturer, do not open".into(),
            }],
            take_back: Some(TakeBack {
                programme: "Example Returns".into(),
                url: "https://example.com/return".into(),
                free_of_charge: true,
            }),
        };
        let t = notice_text("Thermo One", &notice, &info);
        assert!(t.starts_with("Thermo One: end of service notice (no. 3)\n"));
        assert!(t.contains("The cloud service ends on 2031-06-30."));
        assert!(t.contains("- exporting your data from the device"));
        assert!(!t.contains("local API"));
        assert!(t.contains("Final firmware: 4.2.1"));
        assert!(t.contains("From 2031-07-01 you can install your own update key"));
        assert!(t.contains("- Battery: lithium-ion, 2500 mAh, 9.25 Wh, built in"));
        assert!(t.contains("Smoke sensor contains americium-241"));
        assert!(t.contains("Example Returns (free of charge): https://example.com/return"));
    }
}
