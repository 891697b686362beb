//! A small live fleet for the dashboard: connects to a running fleet-server, provisions
//! devices over three hardware revisions and three regions, uploads two releases signed with
//! the service's key, files a few support tickets, and runs the devices over MQTT (heartbeats,
//! check-ins, updates). It does not start a rollout: the caller does that through the API,
//! which is what the browser test checks.
//!
//! ```sh
//! cargo run -p fleet-server --example demo -- --http 127.0.0.1:8080 --mqtt 127.0.0.1:1883 \
//!     --data-dir fleet-data --token "$OPERATOR_TOKEN" --ready ready.json
//! ```
//!
//! The fleet: `--devices` ids from 1; hardware `A`, `B`, `C` by id mod 3; regions `eu`, `us`,
//! `ap`. The last `--unseen` never connect, the `--offline` before them are silent from
//! `--offline-after` for `--offline-for` seconds (offline on the dashboard, then back: a
//! rollout waits for the offers it still has to send to them). On 1.1.0, hardware C devices of lot 3 fail their self-test
//! (a field failure the dashboard shows) and hardware B drains its battery twice as fast.
//! `--ready` gets `{"factory": id, "candidate": id}` once everything is in place.

use core::time::Duration;
use std::path::PathBuf;

use base64::Engine as _;
use clap::Parser;
use fleet_server::client::Api;
use fleet_server::device::{Device, DeviceConfig};
use fleet_server::mqtt::BrokerAddr;
use fleet_server::wire::WireVersion;

/// A live demo fleet for a running fleet-server.
#[derive(Debug, Parser)]
struct Args {
    /// The service's HTTP address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: core::net::SocketAddr,
    /// The broker, host:port.
    #[arg(long, default_value = "127.0.0.1:1883")]
    mqtt: String,
    /// The service's data directory (its `signing.pem` signs the releases).
    #[arg(long, default_value = "fleet-data")]
    data_dir: PathBuf,
    /// Operator token.
    #[arg(long)]
    token: String,
    /// Devices.
    #[arg(long, default_value_t = 120)]
    devices: u64,
    /// Devices provisioned that never connect.
    #[arg(long, default_value_t = 6)]
    unseen: u64,
    /// Devices that go silent after `--offline-after` seconds for `--offline-for` seconds.
    #[arg(long, default_value_t = 6)]
    offline: u64,
    /// Seconds before those go silent.
    #[arg(long, default_value_t = 1)]
    offline_after: u64,
    /// Seconds they stay silent (then they come back, take their offers and report).
    #[arg(long, default_value_t = 30)]
    offline_for: u64,
    /// Milliseconds between heartbeats.
    #[arg(long, default_value_t = 1_000)]
    beat_ms: u64,
    /// Where to write the release ids when ready.
    #[arg(long)]
    ready: Option<PathBuf>,
    /// Stop after this many seconds (0: run until killed).
    #[arg(long, default_value_t = 0)]
    seconds: u64,
}

const HARDWARE: [&str; 3] = ["A", "B", "C"];
const REGIONS: [&str; 3] = ["eu", "us", "ap"];

fn v(minor: u16) -> WireVersion {
    WireVersion {
        major: 1,
        minor,
        patch: 0,
    }
}

fn fails(id: u64, version: WireVersion) -> bool {
    version == v(1) && id % 3 == 2 && id % 4 == 3
}

fn drain(id: u64, version: WireVersion) -> i64 {
    if version == v(1) && id % 3 == 1 { 2 } else { 1 }
}

fn release_body(
    dir: &std::path::Path,
    minor: u16,
    sequence: u64,
) -> Result<serde_json::Value, String> {
    use ota_core::manifest::{Manifest, ProductId, Version};
    let pem = std::fs::read_to_string(dir.join("signing.pem"))
        .map_err(|e| format!("{}: {e}", dir.join("signing.pem").display()))?;
    let key = ota_core::keys::signing_key_from_pem(&pem).map_err(|e| e.to_string())?;
    let image = vec![u8::try_from(minor).unwrap_or(0); 4_000];
    let mut notes = heapless::String::new();
    let _ = notes.push_str(if minor == 0 {
        "factory image"
    } else {
        "radio power save"
    });
    let manifest = Manifest {
        format_version: 1,
        sequence,
        vendor_id: ProductId::from_text("acme"),
        class_id: ProductId::from_text("sensor"),
        version: Version::new(1, minor, 0),
        security_version: 1,
        image_size: image.len() as u32,
        image_digest: ota_core::digest::ImageDigest::of(&image),
        encryption: None,
        expires_at: None,
        min_installed_version: None,
        release_notes: notes,
        delta: None,
    };
    let envelope = ota_core::sign::sign_manifest(&manifest, &[&key]).map_err(|e| e.to_string())?;
    let b = base64::engine::general_purpose::STANDARD;
    Ok(
        serde_json::json!({"envelope": b.encode(envelope), "image": b.encode(&image), "chunk_size": 1024}),
    )
}

async fn release(api: &Api, dir: &std::path::Path, minor: u16) -> Result<i64, String> {
    let s = api.post("/v1/sequences", &serde_json::json!({})).await?;
    let seq = s.json()["sequence"]
        .as_u64()
        .ok_or(format!("no sequence: {}", s.body))?;
    let r = api
        .post("/v1/releases", &release_body(dir, minor, seq)?)
        .await?;
    r.json()["id"]
        .as_i64()
        .ok_or(format!("release refused: {} {}", r.status, r.body))
}

async fn setup(args: &Args, api: &Api) -> Result<(i64, i64), String> {
    let mut up = false;
    for _ in 0..200 {
        if api.get("/healthz").await.is_ok_and(|r| r.status == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if !up {
        return Err(format!("no service at {}", args.http));
    }
    let devices: Vec<serde_json::Value> = (1..=args.devices)
        .map(|id| {
            serde_json::json!({
                "id": id,
                "hardware": HARDWARE[(id % 3) as usize],
                "lot": format!("lot-{}", id % 4),
                "region": REGIONS[((id / 3) % 3) as usize],
            })
        })
        .collect();
    let r = api
        .post("/v1/devices", &serde_json::json!({"devices": devices}))
        .await?;
    if r.status != 200 {
        return Err(format!("provisioning refused: {} {}", r.status, r.body));
    }
    let factory = release(api, &args.data_dir, 0).await?;
    let candidate = release(api, &args.data_dir, 1).await?;
    // Tickets: Wi-Fi drops from a dozen devices, battery complaints, one crash report.
    let tickets = (1..=12u64)
        .map(|i| (i * 7, "wifi-drop", "drops off the Wi-Fi at night"))
        .chain((1..=5u64).map(|i| (i * 11 + 1, "battery", "battery empty within a week")))
        .chain([(5, "app-crash", "the app closes when pairing")]);
    for (device, tag, text) in tickets {
        let r = api
            .post(
                "/v1/tickets",
                &serde_json::json!({"device_id": device % args.devices + 1, "kind": "ticket", "tags": [tag], "text": text}),
            )
            .await?;
        if r.status != 201 {
            return Err(format!("ticket refused: {} {}", r.status, r.body));
        }
    }
    Ok((factory, candidate))
}

fn spawn(args: &Args, broker: &BrokerAddr, trust: [u8; 32]) {
    let live = args.devices.saturating_sub(args.unseen);
    let stop_from = live.saturating_sub(args.offline) + 1;
    for id in 1..=live {
        let config = DeviceConfig {
            trust: Some(trust),
            fails,
            drain,
            ..DeviceConfig::default()
        };
        let (mut dev, mut ev) = Device::connect(broker, id, 1, config);
        let beat_ms = args.beat_ms;
        let silent = (id >= stop_from).then(|| {
            let from = tokio::time::Instant::now() + Duration::from_secs(args.offline_after);
            (from, from + Duration::from_secs(args.offline_for))
        });
        tokio::spawn(async move {
            // Spread the devices over the beat interval.
            tokio::time::sleep(Duration::from_millis(id * 37 % beat_ms.max(1))).await;
            let mut beat = tokio::time::interval(Duration::from_millis(beat_ms));
            let mut hello = tokio::time::interval(Duration::from_millis(beat_ms * 2));
            let mut resend = tokio::time::interval(Duration::from_secs(2));
            loop {
                let now = tokio::time::Instant::now();
                let quiet = silent.is_some_and(|(from, to)| now >= from && now < to);
                tokio::select! {
                    e = ev.poll() => match e {
                        Ok(e) => { let _ = dev.handle(e).await; }
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    },
                    _ = beat.tick() => if !quiet { dev.send_heartbeat().await },
                    _ = hello.tick() => if !quiet { dev.hello().await },
                    _ = resend.tick() => if !quiet { dev.resend(false).await },
                }
            }
        });
    }
}

async fn run(args: Args) -> Result<(), String> {
    let api = Api {
        addr: args.http,
        token: args.token.clone(),
    };
    let broker = fleet_server::mqtt::parse_url(&format!("mqtt://{}", args.mqtt))?;
    let (factory, candidate) = setup(&args, &api).await?;
    let pem =
        std::fs::read_to_string(args.data_dir.join("signing.pem")).map_err(|e| e.to_string())?;
    let trust = ota_core::keys::signing_key_from_pem(&pem)
        .map_err(|e| e.to_string())?
        .verifying_key()
        .to_bytes();
    spawn(&args, &broker, trust);
    // Let the first heartbeats land, and every live device check in (up to a minute on a
    // loaded machine), before saying ready: a rollout started earlier sizes its first stage
    // over the devices seen so far.
    tokio::time::sleep(Duration::from_millis(args.beat_ms * 3)).await;
    let live = args.devices.saturating_sub(args.unseen);
    if let Err(id) = api.wait_checked_in(1..=live, Duration::from_secs(60)).await {
        eprintln!("demo: device {id} had not checked in after 60 s; going on");
    }
    let ready = serde_json::json!({"factory": factory, "candidate": candidate});
    if let Some(p) = &args.ready {
        std::fs::write(p, ready.to_string()).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    println!("demo: ready factory={factory} candidate={candidate}");
    if args.seconds == 0 {
        let _ = tokio::signal::ctrl_c().await;
    } else {
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return std::process::ExitCode::FAILURE;
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
