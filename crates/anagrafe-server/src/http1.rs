//! A minimal HTTP/1.1 client over one keep-alive TCP connection, for notification pushes,
//! `anagrafe api call` and the load script: plain `http://` on a trusted network (loopback, or behind the TLS
//! terminator the register runs behind), no redirects, no proxies.

use anyhow::{Context, bail};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Largest reply read (the peer may be anyone a push URL names).
pub const MAX_REPLY: usize = 16 << 20;

/// One connection to the register.
#[derive(Debug)]
pub struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
}

/// A response: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Splits `http://host:port[/prefix]` into the address to connect to.
pub fn authority(base: &str) -> anyhow::Result<String> {
    let rest = base.strip_prefix("http://").with_context(|| format!("{base}: only http:// URLs are supported"))?;
    let host = rest.split('/').next().unwrap_or(rest);
    if host.is_empty() {
        bail!("{base}: no host");
    }
    Ok(if host.contains(':') { host.to_owned() } else { format!("{host}:80") })
}

impl Conn {
    /// Connects to the register at `base`.
    pub async fn connect(base: &str) -> anyhow::Result<Self> {
        let host = authority(base)?;
        let tcp = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&host))
            .await
            .with_context(|| format!("timed out connecting to {host}"))?
            .with_context(|| format!("cannot connect to {host}"))?;
        tcp.set_nodelay(true)?;
        Ok(Self { stream: BufReader::new(tcp), host })
    }

    /// Sends one request and reads its response.
    pub async fn send(&mut self, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> anyhow::Result<Reply> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n", self.host, body.len());
        for (k, v) in headers {
            if v.contains(['\r', '\n']) {
                bail!("header {k} holds a line break");
            }
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let s = self.stream.get_mut();
        s.write_all(req.as_bytes()).await?;
        s.write_all(body).await?;
        self.read_reply().await
    }

    async fn read_reply(&mut self) -> anyhow::Result<Reply> {
        let mut line = String::new();
        (&mut self.stream).take(8192).read_line(&mut line).await?;
        let status: u16 =
            line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).with_context(|| format!("bad status line {line:?}"))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            if headers.len() > 200 {
                bail!("too many headers");
            }
            if (&mut self.stream).take(8192).read_line(&mut line).await? == 0 {
                bail!("connection closed in the headers");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if let Some(len) = get("content-length") {
            let len: usize = len.parse().context("bad content-length")?;
            if len > MAX_REPLY {
                bail!("reply of {len} bytes is larger than {MAX_REPLY}");
            }
            body.resize(len, 0);
            self.stream.read_exact(&mut body).await?;
        } else if get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
            loop {
                line.clear();
                (&mut self.stream).take(1024).read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16).context("bad chunk size")?;
                if size > MAX_REPLY.saturating_sub(body.len()) {
                    bail!("reply larger than {MAX_REPLY} bytes");
                }
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        }
        Ok(Reply { status, headers, body })
    }
}
