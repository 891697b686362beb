//! The embedded broker against real MQTT clients: `rumqttc` (always) and mosquitto's
//! `mosquitto_pub` / `mosquitto_sub` (skipped with a message when they are not installed).
//! No timing asserts: every wait is for an event, with a generous timeout.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use core::net::SocketAddr;
use core::sync::atomic::Ordering::Relaxed;
use core::time::Duration;

use fleet_server::broker::{self, Limits, Started};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS,
};

const WAIT: Duration = Duration::from_secs(30);

fn start() -> Started {
    broker::start(SocketAddr::from(([127, 0, 0, 1], 0)), Limits::default()).unwrap()
}

fn client(b: &Started, id: &str) -> (AsyncClient, EventLoop) {
    let mut o = MqttOptions::new(id, "127.0.0.1", b.addr.port());
    o.set_keep_alive(Duration::from_secs(30));
    AsyncClient::new(o, 100)
}

/// Polls until `f` takes an event (returns `Some`), failing after [`WAIT`].
async fn until<T>(ev: &mut EventLoop, mut f: impl FnMut(&Event) -> Option<T>) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let e = ev.poll().await.expect("connection failed");
            if let Some(t) = f(&e) {
                return t;
            }
        }
    })
    .await
    .expect("no such event within 30 s")
}

/// Drives `ev` in the background, handing every incoming PUBLISH to the returned channel.
fn drive(mut ev: EventLoop) -> tokio::sync::mpsc::UnboundedReceiver<rumqttc::Publish> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(e) = ev.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = e
                && tx.send(p).is_err()
            {
                return;
            }
        }
    });
    rx
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<rumqttc::Publish>) -> rumqttc::Publish {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no message within 30 s")
        .expect("connection ended")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rumqttc_publishes_and_subscribes_with_wildcards_at_qos_0_and_1() {
    let b = start();
    let (sub, mut sub_ev) = client(&b, "sub");
    until(&mut sub_ev, |e| {
        matches!(e, Event::Incoming(Packet::ConnAck(_))).then_some(())
    })
    .await;
    sub.subscribe("fleet/v1/devices/+/up/+", QoS::AtLeastOnce)
        .await
        .unwrap();
    sub.subscribe("other/#", QoS::AtMostOnce).await.unwrap();
    sub.subscribe("qos2/x", QoS::ExactlyOnce).await.unwrap();
    let codes = until(&mut sub_ev, |e| match e {
        Event::Incoming(Packet::SubAck(s)) if s.pkid == 3 => Some(s.return_codes.clone()),
        _ => None,
    })
    .await;
    // QoS 2 is granted as QoS 1.
    assert_eq!(
        codes,
        vec![rumqttc::SubscribeReasonCode::Success(QoS::AtLeastOnce)]
    );
    let mut got = drive(sub_ev);

    let (publ, mut pub_ev) = client(&b, "pub");
    publ.publish(
        "fleet/v1/devices/7/up/frames",
        QoS::AtLeastOnce,
        false,
        vec![1u8; 300],
    )
    .await
    .unwrap();
    // The broker acknowledges a QoS 1 publish.
    until(&mut pub_ev, |e| {
        matches!(e, Event::Incoming(Packet::PubAck(_))).then_some(())
    })
    .await;
    publ.publish(
        "fleet/v1/devices/7/down/ack",
        QoS::AtLeastOnce,
        false,
        vec![9u8],
    )
    .await
    .unwrap();
    publ.publish("other/a/b", QoS::AtLeastOnce, false, b"zero".to_vec())
        .await
        .unwrap();
    let mut rest = drive(pub_ev);

    let m = next(&mut got).await;
    assert_eq!(
        (m.topic.as_str(), m.qos, m.payload.len()),
        ("fleet/v1/devices/7/up/frames", QoS::AtLeastOnce, 300)
    );
    // The down topic matched nothing; the QoS 1 publish to a QoS 0 filter arrives at QoS 0.
    let m = next(&mut got).await;
    assert_eq!(
        (m.topic.as_str(), m.qos, &m.payload[..]),
        ("other/a/b", QoS::AtMostOnce, &b"zero"[..])
    );

    // After UNSUBSCRIBE nothing more on that filter: the next message is the later one.
    sub.unsubscribe("other/#").await.unwrap();
    while b.stats.subscriptions.load(Relaxed) != 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    publ.publish("other/a/b", QoS::AtMostOnce, false, b"gone".to_vec())
        .await
        .unwrap();
    publ.publish("qos2/x", QoS::AtMostOnce, false, b"last".to_vec())
        .await
        .unwrap();
    let m = next(&mut got).await;
    assert_eq!((m.topic.as_str(), &m.payload[..]), ("qos2/x", &b"last"[..]));
    assert!(rest.try_recv().is_err());
    assert_eq!(b.stats.dropped.load(Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_with_the_same_id_takes_over_but_not_the_services() {
    let b = start();
    let (_c1, mut ev1) = client(&b, "same");
    until(&mut ev1, |e| {
        matches!(e, Event::Incoming(Packet::ConnAck(_))).then_some(())
    })
    .await;
    let (_c2, mut ev2) = client(&b, "same");
    until(&mut ev2, |e| {
        matches!(e, Event::Incoming(Packet::ConnAck(_))).then_some(())
    })
    .await;
    // The first connection is closed by the broker.
    let first = tokio::time::timeout(WAIT, async {
        loop {
            if let Err(e) = ev1.poll().await {
                return e;
            }
        }
    })
    .await
    .unwrap();
    assert!(
        matches!(
            first,
            ConnectionError::Io(_) | ConnectionError::MqttState(_)
        ),
        "{first:?}"
    );

    // The service's login: a wrong password is refused, the right one is let in, and its
    // client id cannot be taken by a client without it.
    let mut o = MqttOptions::new("svc", "127.0.0.1", b.addr.port());
    o.set_credentials(b.login.username.clone(), "wrong");
    let (_c, mut ev) = AsyncClient::new(o, 10);
    let refused = ev.poll().await.unwrap_err();
    assert!(
        matches!(
            refused,
            ConnectionError::ConnectionRefused(ConnectReturnCode::BadUserNamePassword)
        ),
        "{refused:?}"
    );
    let mut o = MqttOptions::new("svc", "127.0.0.1", b.addr.port());
    o.set_credentials(b.login.username.clone(), b.login.password.clone());
    let (_svc, mut svc_ev) = AsyncClient::new(o, 10);
    until(&mut svc_ev, |e| {
        matches!(e, Event::Incoming(Packet::ConnAck(_))).then_some(())
    })
    .await;
    let _svc_rx = drive(svc_ev);
    let (_c, mut ev) = client(&b, "svc");
    let refused = ev.poll().await.unwrap_err();
    assert!(
        matches!(
            refused,
            ConnectionError::ConnectionRefused(ConnectReturnCode::BadClientId)
        ),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_its_own_connection() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let b = start();
    let (sub, mut sub_ev) = client(&b, "listener");
    until(&mut sub_ev, |e| {
        matches!(e, Event::Incoming(Packet::ConnAck(_))).then_some(())
    })
    .await;
    sub.subscribe("t", QoS::AtLeastOnce).await.unwrap();
    until(&mut sub_ev, |e| {
        matches!(e, Event::Incoming(Packet::SubAck(_))).then_some(())
    })
    .await;
    let mut got = drive(sub_ev);
    for garbage in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0x10, 0xff, 0xff, 0xff, 0xff, 0x7f],
        // A valid CONNECT, then a QoS 2 publish.
        &[
            0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 30, 0, 0, 0x34, 5, 0, 1, b't', 0, 1,
        ],
    ] {
        let mut s = tokio::net::TcpStream::connect(b.addr).await.unwrap();
        s.write_all(garbage).await.unwrap();
        let mut buf = Vec::new();
        // Closed by the broker (after a CONNACK for the valid CONNECT).
        let read = tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
            .await
            .unwrap();
        assert!(read.is_ok() || buf.len() <= 4, "{read:?}");
        assert!(buf.is_empty() || buf == [0x20, 2, 0, 0], "{buf:?}");
    }
    tokio::time::timeout(WAIT, async {
        while b.stats.protocol_errors.load(Relaxed) < 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("three protocol errors counted");
    let (publ, pub_ev) = client(&b, "after");
    let _rest = drive(pub_ev);
    publ.publish("t", QoS::AtLeastOnce, false, b"still here".to_vec())
        .await
        .unwrap();
    assert_eq!(&next(&mut got).await.payload[..], b"still here");
}

fn have(tool: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("--help")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if !found {
        eprintln!("SKIP: {tool} is not installed (Debian package mosquitto-clients)");
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_clients_talk_to_it() {
    if !have("mosquitto_sub") || !have("mosquitto_pub") {
        return;
    }
    let b = start();
    let port = b.addr.port().to_string();
    let sub = tokio::process::Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-V",
            "mqttv311",
            "-q",
            "1",
            "-v",
            "-C",
            "2",
        ])
        .args(["-W", "60", "-t", "fleet/+/x", "-t", "deep/#"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Both filters held: mosquitto_sub is subscribed.
    tokio::time::timeout(WAIT, async {
        while b.stats.subscriptions.load(Relaxed) < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("mosquitto_sub did not subscribe");
    for (topic, msg, qos) in [
        ("fleet/a/x", "one", "1"),
        ("fleet/a/y", "none", "0"),
        ("deep/1/2/3", "two", "0"),
    ] {
        let st = tokio::process::Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-V", "mqttv311", "-q", qos])
            .args(["-t", topic, "-m", msg])
            .status()
            .await
            .unwrap();
        assert!(st.success(), "mosquitto_pub -t {topic}: {st}");
    }
    let out = tokio::time::timeout(WAIT, sub.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "mosquitto_sub: {}", out.status);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "fleet/a/x one\ndeep/1/2/3 two\n"
    );
}
