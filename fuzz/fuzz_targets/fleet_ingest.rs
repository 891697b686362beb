//! Fleet ingest on untrusted bytes: frames for several devices (and alert playbooks as JSON)
//! never panic; every frame is either accepted or counted as bad (on its own device's record,
//! or fleet-wide for an id that never sent a good frame).
#![no_main]

use libfuzzer_sys::fuzz_target;
use telemetry_core::fleet::aggregate::FleetAggregate;
use telemetry_core::fleet::alert::Playbook;
use telemetry_core::fleet::ingest::{Ingest, IngestConfig};
use telemetry_core::fleet::prometheus::render;
use telemetry_core::fleet::registry::Registry;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode == 0 {
        let _ = Playbook::from_json(&String::from_utf8_lossy(rest));
        return;
    }
    let config = IngestConfig {
        max_references: 2,
        enroll_on_key: mode & 1 == 1,
    };
    let mut ingest = Ingest::<8>::new(Registry::default(), config);
    // Records: [device][len][len bytes], each one frame at t = index * 60.
    let mut input = rest;
    let mut sent = [0u32; 4];
    let mut bad = [0u32; 4];
    let mut t = 0u64;
    while let [device, len, tail @ ..] = input {
        let n = usize::from(*len).min(tail.len());
        let (frame, next) = tail.split_at(n);
        let d = usize::from(*device % 4);
        sent[d] += 1;
        if ingest.ingest(d as u64, t, frame).is_err() {
            bad[d] += 1;
        }
        t += 60;
        input = next;
    }
    // A bad frame is counted on its device's record, or fleet-wide when the id has no record
    // (it never sent a good frame): never lost, never double-counted.
    let on_records: u64 = (0..4)
        .map(|d| ingest.registry().get(d as u64).map_or(0, |r| u64::from(r.bad_frames)))
        .sum();
    assert_eq!(
        on_records + ingest.registry().unknown_bad_frames(),
        u64::from(bad.iter().sum::<u32>()),
        "bad frames"
    );
    for d in 0..4 {
        let got = ingest.registry().get(d as u64).map_or(0, |r| r.bad_frames);
        assert!(got <= bad[d], "bad frames of device {d}");
    }
    let stats = ingest.stats();
    assert_eq!(
        stats.accepted + stats.rejected,
        u64::from(sent.iter().sum::<u32>())
    );
    ingest.registry_mut().sweep(t + 86_400);
    let _ = render(&FleetAggregate::from_registry(ingest.registry()));
});
