//! A minimal HTTP/1.1 JSON client for the examples and tests (loopback, no TLS), so that they
//! need no HTTP client crate.

use core::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: String,
}

impl Response {
    /// The body as JSON (`Null` when it is not JSON).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The API at `addr` with a bearer token.
#[derive(Debug, Clone)]
pub struct Api {
    /// Address.
    pub addr: SocketAddr,
    /// Token.
    pub token: String,
}

impl Api {
    /// Sends `method path` with an optional JSON body.
    ///
    /// # Errors
    /// Connection or protocol errors, as text.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, String> {
        let body = body.map(serde_json::Value::to_string).unwrap_or_default();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            self.token,
            body.len()
        );
        if !body.is_empty() {
            req.push_str("Content-Type: application/json\r\n");
        }
        req.push_str("\r\n");
        req.push_str(&body);
        let mut s = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&raw);
        let (head, rest) = text.split_once("\r\n\r\n").ok_or("no header end")?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no status")?;
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let body = if chunked {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        Ok(Response { status, body })
    }

    /// GET.
    ///
    /// # Errors
    /// As [`Api::call`].
    pub async fn get(&self, path: &str) -> Result<Response, String> {
        self.call("GET", path, None).await
    }

    /// POST with a JSON body.
    ///
    /// # Errors
    /// As [`Api::call`].
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Result<Response, String> {
        self.call("POST", path, Some(body)).await
    }

    /// Waits up to `within` until every device in `ids` has checked in (`last_hello_at` is
    /// recorded), as an operator would before starting a rollout: a stage opened earlier is
    /// sized over the devices seen so far.
    ///
    /// # Errors
    /// The first device that had not checked in when the time ran out.
    pub async fn wait_checked_in(
        &self,
        ids: impl IntoIterator<Item = u64>,
        within: core::time::Duration,
    ) -> Result<(), u64> {
        let deadline = tokio::time::Instant::now() + within;
        for id in ids {
            loop {
                let seen = self
                    .get(&format!("/v1/devices/{id}"))
                    .await
                    .is_ok_and(|r| r.status == 200 && !r.json()["last_hello_at"].is_null());
                if seen {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(id);
                }
                tokio::time::sleep(core::time::Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(rest.get(..n).unwrap_or(""));
        s = rest.get(n + 2..).unwrap_or("");
    }
    out
}
