//! Outbound HTTP: notification pushes to the comuni, and the command line's `api call`,
//! `api load` and `pdnd` commands. The HTTP client already in the tree (reqwest), over plain
//! `http://` to the register, its gateway or a comune's endpoint on a trusted network (loopback,
//! or behind the TLS terminator the register runs behind): no redirects followed, no proxies,
//! replies read up to `MAX_REPLY` bytes. It replaced a home-made HTTP/1.1 client (issue 16);
//! `docs/benchmarks.md` has the load figures before and after.

use std::time::Duration;

/// How long the command line waits for one call to the register or its gateway.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest reply read (the peer may be anyone a push URL names).
pub const MAX_REPLY: usize = 16 << 20;

/// Why an outbound call failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The URL is not `http://host[:port][/path]`.
    #[error("{url}: {why}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A header that cannot be sent (a line break, a bad name).
    #[error("header {0} cannot be sent")]
    Header(String),
    /// The method is not an HTTP method.
    #[error("{0} is not an HTTP method")]
    Method(String),
    /// The reply is larger than `MAX_REPLY`.
    #[error("reply larger than {MAX_REPLY} bytes")]
    TooLarge,
    /// Connecting, sending or reading failed (or timed out).
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// A reply: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// `host:port` of `http://host[:port][/prefix]` (port 80 when none is given).
pub fn authority(base: &str) -> Result<String, OutboundError> {
    let url = |why| OutboundError::Url { url: base.to_owned(), why };
    let rest = base.strip_prefix("http://").ok_or_else(|| url("only http:// URLs are supported"))?;
    let host = rest.split('/').next().unwrap_or(rest);
    if host.is_empty() {
        return Err(url("no host"));
    }
    Ok(if host.contains(':') { host.to_owned() } else { format!("{host}:80") })
}

/// The client every outbound call uses: no redirects, the given timeout for a whole call.
pub fn client(timeout: Duration) -> reqwest::Client {
    // reqwest is built without a default TLS provider: the process picks ring once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .build()
        .expect("an HTTP client without TLS settings builds")
}

/// Calls to one origin, over one kept-alive connection at a time.
#[derive(Debug, Clone)]
pub struct Conn {
    client: reqwest::Client,
    origin: String,
}

impl Conn {
    /// Calls to the origin of `base` (`http://host[:port]`), each within `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, OutboundError> {
        Ok(Self { client: client(timeout), origin: format!("http://{}", authority(base)?) })
    }

    /// Sends one request to `path` (absolute, from `/`) and reads its reply.
    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Result<Reply, OutboundError> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| OutboundError::Method(method.to_owned()))?;
        let mut req = self.client.request(m, format!("{}{path}", self.origin));
        for (k, v) in headers {
            let value = reqwest::header::HeaderValue::from_str(v).map_err(|_| OutboundError::Header((*k).to_owned()))?;
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| OutboundError::Header((*k).to_owned()))?;
            req = req.header(name, value);
        }
        let mut reply = req.body(body.to_vec()).send().await?;
        let status = reply.status().as_u16();
        let headers =
            reply.headers().iter().map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
        if reply.content_length().is_some_and(|n| n > MAX_REPLY as u64) {
            return Err(OutboundError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = reply.chunk().await? {
            if body.len() + chunk.len() > MAX_REPLY {
                return Err(OutboundError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply { status, headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host_are_taken() {
        assert_eq!(authority("http://127.0.0.1:8080/api").unwrap(), "127.0.0.1:8080");
        assert_eq!(authority("http://comune.example").unwrap(), "comune.example:80");
        assert!(matches!(authority("https://comune.example"), Err(OutboundError::Url { .. })));
        assert!(matches!(authority("http:///x"), Err(OutboundError::Url { .. })));
    }
}
