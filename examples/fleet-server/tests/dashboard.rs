//! The dashboard's pages and read views: served without a token, data only with one, the
//! role visible to the page, gates of a running rollout with their pause and abort levels,
//! and `/metrics` with the fleet's families (promtool where installed).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;

use fleet_server::device::DeviceConfig;
use serde_json::json;

fn dump(name: &str, v: &serde_json::Value) {
    if let Ok(dir) = std::env::var("FLEET_DUMP_JSON") {
        std::fs::write(
            format!("{dir}/{name}.json"),
            serde_json::to_string_pretty(v).unwrap(),
        )
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_views_roles_and_gates() {
    let h = common::start("dashboard", |_| {}).await;
    // Pages need no token and say what they are.
    let anon = fleet_server::client::Api {
        addr: h.operator.addr,
        token: String::new(),
    };
    for (path, needle) in [
        ("/ui/", "<title>fleet-ops dashboard</title>"),
        ("/status", "<title>Service status</title>"),
        ("/ui/app.js", "whoami"),
        ("/ui/charts.js", "svg"),
        ("/ui/status.js", "/v1/public/status"),
        ("/ui/style.css", "body"),
    ] {
        let r = anon.get(path).await.unwrap();
        assert_eq!(r.status, 200, "{path}");
        assert!(r.body.contains(needle), "{path} lacks {needle}");
    }
    // Data needs a token; the public status does not.
    assert_eq!(anon.get("/v1/fleet").await.unwrap().status, 401);
    let public = anon.get("/v1/public/status").await.unwrap();
    assert_eq!(public.status, 200, "{}", public.body);
    assert_eq!(public.json()["overall"], "operational", "{}", public.body);
    let pj = public.json();
    assert_eq!(
        pj.as_object().unwrap().len(),
        3,
        "only overall, components, at: {}",
        public.body
    );
    assert_eq!(
        public.json()["components"].as_array().unwrap().len(),
        3,
        "{}",
        public.body
    );
    // The role, so the page can hide operator buttons.
    assert_eq!(
        h.reader.get("/v1/whoami").await.unwrap().json()["can_command"],
        false
    );
    assert_eq!(
        h.operator.get("/v1/whoami").await.unwrap().json()["can_command"],
        true
    );

    let base = common::id_base();
    let devices: Vec<serde_json::Value> = (0..8)
        .map(|i| json!({"id": base + i, "hardware": if i % 2 == 0 { "A" } else { "B" }, "region": "eu"}))
        .collect();
    common::register(&h, &devices).await;
    let (r1, _) = common::release(&h, (1, 0, 0), &[0; 2_000]).await;
    let (r2, _) = common::release(&h, (1, 1, 0), &[1; 2_000]).await;
    // 1.1.0 fails its self-test everywhere: the first stage's devices reboot by watchdog and
    // roll back, which the field-failure view must see as fault reboots.
    let config = DeviceConfig {
        trust: Some(common::trust(&h.dir)),
        fails: |_, v| v.minor == 1,
        ..DeviceConfig::default()
    };
    let _logs: Vec<_> = (0..8)
        .map(|i| common::spawn_device(&h.broker, base + i, config.clone(), 200, 300))
        .collect();
    let ids: Vec<u64> = (0..8).map(|i| base + i).collect();
    common::checked_in(&h, &ids).await;
    for (tags, text) in [
        ("wifi,battery", "drops off at night"),
        ("battery", "drains fast"),
    ] {
        let t = h
            .operator
            .post("/v1/tickets", &json!({"device_id": base, "kind": "ticket", "tags": tags.split(',').collect::<Vec<_>>(), "text": text}))
            .await
            .unwrap();
        assert_eq!(t.status, 201, "{}", t.body);
    }
    let r = h
        .operator
        .post(
            "/v1/rollouts",
            &json!({"release_id": r2, "previous_release_id": r1, "plan": common::two_stage_plan()}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    // Wait until a decision with gates is recorded (the first stage passed).
    let mut gates = serde_json::Value::Null;
    for _ in 0..1200 {
        gates = h
            .reader
            .get(&format!("/v1/rollouts/{id}/gates"))
            .await
            .unwrap()
            .json();
        if gates["history"].as_array().is_some_and(|a| {
            a.iter()
                .any(|d| d["gates"].as_array().is_some_and(|g| !g.is_empty()))
        }) {
            break;
        }
        tokio::time::sleep(core::time::Duration::from_millis(100)).await;
    }
    dump("gates", &gates);
    let with_gates = gates["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| !d["gates"].as_array().unwrap().is_empty())
        .expect("a decision with gates");
    let g = &with_gates["gates"][0];
    assert!(
        g["pause_at"].is_number() && g["fail_at"].is_number() && g["statistic"].is_number(),
        "{g}"
    );
    assert!(
        gates["now"]["action"].is_object() || gates["now"]["action"].is_string(),
        "{gates}"
    );

    for path in [
        "/v1/fleet",
        "/v1/fleet/battery",
        "/v1/fleet/failures",
        "/v1/tickets/trends",
        &format!("/v1/rollouts/{id}"),
        &format!("/v1/rollouts/{id}/decisions"),
        "/v1/alerts",
        "/v1/status",
        "/v1/rollouts",
        "/v1/releases",
    ] {
        let r = h.reader.get(path).await.unwrap();
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        dump(
            &path.trim_start_matches("/v1/").replace('/', "_"),
            &r.json(),
        );
    }
    // Every device that failed the update rebooted by watchdog: a fault reboot, counted.
    let mut failures = serde_json::Value::Null;
    for _ in 0..600 {
        failures = h.reader.get("/v1/fleet/failures").await.unwrap().json();
        if failures["failed"].as_u64().unwrap_or(0) >= 3 {
            break;
        }
        tokio::time::sleep(core::time::Duration::from_millis(100)).await;
    }
    assert_eq!(failures["failed"], 3, "{failures}");
    assert_eq!(failures["units"], 8, "{failures}");
    let fleet = h.reader.get("/v1/fleet").await.unwrap().json();
    assert_eq!(fleet["fleet"]["fault_reboots"], 3, "{fleet}");
    assert_eq!(fleet["fleet"]["devices"], 8, "{fleet}");
    let hw: u64 = fleet["by"]["hardware"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["devices"].as_u64().unwrap())
        .sum();
    assert_eq!(hw, 8);
    let trends = h.reader.get("/v1/tickets/trends").await.unwrap().json();
    let battery = trends["trends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == "battery")
        .unwrap();
    // Per distinct device: two tickets from one device count once.
    assert_eq!(battery["current"], 1, "{trends}");
    assert_eq!(
        trends["daily"]["battery"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        2
    );
    assert_eq!(
        h.reader
            .get("/v1/tickets/trends?days=0")
            .await
            .unwrap()
            .status,
        400
    );

    // /metrics: the fleet's families, sum() right, promtool clean where installed.
    let m = anon.get("/metrics").await.unwrap();
    assert_eq!(m.status, 200);
    let devices: f64 = m
        .body
        .lines()
        .filter(|l| l.starts_with("fleet_devices_by_hardware{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(devices, 8.0, "{}", m.body);
    match std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Err(_) => println!("SKIP: promtool is not installed; /metrics not checked by promtool"),
        Ok(mut child) => {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(m.body.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.status.success() && said.trim().is_empty(),
                "promtool: {said}"
            );
        }
    }
}
