//! Capacity forecast, surge, support tag trends (Prometheus export: `fleet_prometheus.rs`).
#![cfg(feature = "std")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use telemetry_core::fleet::capacity::{GrowthModel, forecast, surge};
use telemetry_core::fleet::registry::Registry;
use telemetry_core::fleet::report::{FirmwareVersion, Report};
use telemetry_core::fleet::support::{Ticket, TicketKind, returned_devices, tag_trends};

const DAY: u64 = 86_400;

#[test]
fn exponential_growth_reaches_capacity_on_time() {
    // 100,000 devices growing 2% a day for 30 days; capacity 500,000.
    let series: Vec<(u64, f64)> = (0..30u64)
        .map(|d| (d * DAY, 100_000.0 * 1.02f64.powi(d as i32)))
        .collect();
    let f = forecast(&series, 500_000.0, GrowthModel::Exponential).unwrap();
    assert!(
        (f.growth_per_day - 0.02).abs() < 1e-9,
        "{}",
        f.growth_per_day
    );
    // From day 29 (177,584 devices): ln(500000/177584)/ln(1.02) = 52.3 days.
    let days = f.days_to_capacity.unwrap();
    assert!((days - 52.3).abs() < 0.1, "{days}");
    // The linear model is later (it underestimates compound growth).
    let lin = forecast(&series, 500_000.0, GrowthModel::Linear).unwrap();
    assert!(lin.days_to_capacity.unwrap() > days);
}

#[test]
fn forecast_edges() {
    assert!(forecast(&[(0, 1.0)], 10.0, GrowthModel::Linear).is_none());
    assert!(forecast(&[(0, 0.0), (DAY, 1.0)], 10.0, GrowthModel::Exponential).is_none());
    let flat = forecast(&[(0, 5.0), (DAY, 5.0)], 10.0, GrowthModel::Linear).unwrap();
    assert_eq!(flat.days_to_capacity, None);
    let over = forecast(&[(0, 5.0), (DAY, 20.0)], 10.0, GrowthModel::Linear).unwrap();
    assert_eq!(over.days_to_capacity, Some(0.0));
    let lin = forecast(
        &[(0, 0.0), (DAY, 10.0), (2 * DAY, 20.0)],
        100.0,
        GrowthModel::Linear,
    )
    .unwrap();
    assert!((lin.days_to_capacity.unwrap() - 8.0).abs() < 1e-9);
}

#[test]
fn surges_are_relative_and_not_tiny() {
    let s = surge(12_000, 1_000, 10.0, 100).unwrap();
    assert!((s.ratio - 12.0).abs() < 1e-12);
    assert!(surge(9_000, 1_000, 10.0, 100).is_none());
    assert!(surge(3, 0, 10.0, 100).is_none());
    assert!(surge(500, 0, 10.0, 100).is_some());
}

fn ticket(id: u64, device: u64, day: u64, tags: &[&str], fw: (u8, u8), reg: &Registry) -> Ticket {
    let mut t = Ticket::new(
        id,
        device,
        TicketKind::Ticket,
        day * DAY + 100,
        tags.iter().map(|s| s.to_string()).collect(),
        "it drops off the network at night".into(),
        reg,
    );
    t.firmware = FirmwareVersion::new(1, fw.0, fw.1);
    t
}

#[test]
fn tag_trends_show_rising_disconnects_since_a_release() {
    let mut reg = Registry::default();
    reg.observe(
        1,
        50,
        &Report {
            battery_percent: Some(44),
            firmware: Some(FirmwareVersion::new(1, 2, 0)),
            ..Report::default()
        },
    )
    .unwrap();
    let mut tickets = Vec::new();
    let mut id = 0;
    // Last week: 4 devices report nightly disconnects on 1.1.x.
    for d in 0..4 {
        id += 1;
        tickets.push(ticket(
            id,
            100 + d,
            1,
            &["nightly-disconnect"],
            (1, 0),
            &reg,
        ));
    }
    // This week: 30 devices, 27 of them on 1.2.0 or 1.2.1.
    for d in 0..30 {
        id += 1;
        let fw = if d < 3 {
            (1, 0)
        } else if d < 20 {
            (2, 0)
        } else {
            (2, 1)
        };
        tickets.push(ticket(id, 200 + d, 9, &["nightly-disconnect"], fw, &reg));
    }
    // Feature requests, one device asking twice counts once.
    for d in 0..50 {
        id += 1;
        tickets.push(ticket(id, 300 + d, 10, &["wants-scheduling"], (2, 0), &reg));
    }
    id += 1;
    tickets.push(ticket(id, 300, 11, &["wants-scheduling"], (2, 0), &reg));
    let trends = tag_trends(&tickets, 14 * DAY, 7 * DAY, 2.0);
    assert_eq!(trends[0].tag, "wants-scheduling");
    assert_eq!(trends[0].current, 50);
    let nd = &trends[1];
    assert_eq!(nd.tag, "nightly-disconnect");
    assert_eq!((nd.current, nd.previous), (30, 4));
    assert!(nd.rising);
    assert_eq!(nd.since_firmware, Some(FirmwareVersion::new(1, 2, 0)));
    // A ticket snapshots the device.
    let t = Ticket::new(9, 1, TicketKind::Return, 60, vec![], String::new(), &reg);
    assert_eq!(t.firmware, FirmwareVersion::new(1, 2, 0));
    assert_eq!(t.diagnostics.unwrap().battery_percent, Some(44));
    assert!(
        Ticket::new(9, 77, TicketKind::Ticket, 60, vec![], String::new(), &reg)
            .diagnostics
            .is_none()
    );
    assert_eq!(returned_devices(&[t]), [1].into());
}
