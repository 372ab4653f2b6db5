//! # vaccel-transport: where a vAccel client and agent meet
//!
//! Addresses (as upstream vAccel writes them, plus Firecracker's hybrid vsock):
//!
//! | address | client | agent |
//! |---|---|---|
//! | `unix:///run/vaccel.sock` | connect to the socket | listen on it |
//! | `tcp://host:port` | connect (`TCP_NODELAY` always on) | listen |
//! | `vsock://CID:PORT` | connect over AF_VSOCK (guest: CID 2 = host) | listen on the port |
//! | `hvsock:///path/v.sock:PORT` | connect to a Firecracker / Cloud Hypervisor vsock socket: write `CONNECT PORT\n`, read `OK <n>\n` | listen on `/path/v.sock_PORT`, where the VMM forwards the guest's connections to PORT |
//!
//! The client side is blocking (the rpc plugin runs inside the caller's thread); the agent
//! side is tokio.

#![forbid(unsafe_code)]

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Upstream vAccel's default for guests: the host (CID 2), port 2048.
pub const DEFAULT_ADDRESS: &str = "vsock://2:2048";

/// A transport address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A Unix socket path.
    Unix(PathBuf),
    /// `host:port`.
    Tcp(String),
    /// AF_VSOCK context id and port.
    Vsock {
        /// Context id (2 = host).
        cid: u32,
        /// Port.
        port: u32,
    },
    /// A Firecracker / Cloud Hypervisor hybrid vsock: the VMM's Unix socket and the guest port.
    Hybrid {
        /// The VMM's vsock `uds_path`.
        uds: PathBuf,
        /// The port.
        port: u32,
    },
}

/// Why an address string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("address {address:?}: {reason}")]
pub struct AddressError {
    /// The address given.
    pub address: String,
    /// What is wrong.
    pub reason: String,
}

fn bad(address: &str, reason: impl Into<String>) -> AddressError {
    AddressError {
        address: address.into(),
        reason: reason.into(),
    }
}

fn number(address: &str, what: &str, v: &str) -> Result<u32, AddressError> {
    v.parse::<u32>()
        .map_err(|_| bad(address, format!("{what} {v:?} is not a number")))
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(bad(
                s,
                "expected scheme://…: unix:///path, tcp://host:port, vsock://cid:port or hvsock:///path:port",
            ));
        };
        match scheme {
            "unix" => {
                if rest.is_empty() {
                    return Err(bad(s, "empty socket path"));
                }
                Ok(Address::Unix(PathBuf::from(rest)))
            }
            "tcp" => {
                let (host, port) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| bad(s, "expected tcp://host:port"))?;
                if host.is_empty() {
                    return Err(bad(s, "empty host"));
                }
                number(s, "port", port)?;
                Ok(Address::Tcp(rest.to_string()))
            }
            "vsock" => {
                let (cid, port) = rest
                    .split_once(':')
                    .ok_or_else(|| bad(s, "expected vsock://cid:port"))?;
                Ok(Address::Vsock {
                    cid: number(s, "cid", cid)?,
                    port: number(s, "port", port)?,
                })
            }
            "hvsock" => {
                let (path, port) = rest
                    .rsplit_once(':')
                    .ok_or_else(|| bad(s, "expected hvsock:///path:port"))?;
                if path.is_empty() {
                    return Err(bad(s, "empty socket path"));
                }
                Ok(Address::Hybrid {
                    uds: PathBuf::from(path),
                    port: number(s, "port", port)?,
                })
            }
            other => Err(bad(
                s,
                format!("unknown scheme {other:?} (unix, tcp, vsock, hvsock)"),
            )),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix://{}", p.display()),
            Address::Tcp(hp) => write!(f, "tcp://{hp}"),
            Address::Vsock { cid, port } => write!(f, "vsock://{cid}:{port}"),
            Address::Hybrid { uds, port } => write!(f, "hvsock://{}:{port}", uds.display()),
        }
    }
}

/// The Unix socket a VMM forwards a guest's connections to `port` to: `<uds>_<port>`.
pub fn hybrid_listen_path(uds: &Path, port: u32) -> PathBuf {
    let mut s = uds.as_os_str().to_owned();
    s.push(format!("_{port}"));
    PathBuf::from(s)
}

/// A connected byte stream (client side).
#[derive(Debug)]
pub enum Stream {
    /// Unix socket.
    Unix(std::os::unix::net::UnixStream),
    /// TCP.
    Tcp(std::net::TcpStream),
    /// AF_VSOCK.
    Vsock(vsock::VsockStream),
}

impl Stream {
    /// Another handle to the same connection (one thread reads, others write).
    ///
    /// # Errors
    /// The OS error.
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Vsock(s) => Stream::Vsock(s.try_clone()?),
        })
    }

    /// Read and write deadlines for each blocking call (`None`: wait as long as it takes).
    ///
    /// # Errors
    /// The OS error.
    pub fn set_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => {
                s.set_read_timeout(dur)?;
                s.set_write_timeout(dur)
            }
            Stream::Tcp(s) => {
                s.set_read_timeout(dur)?;
                s.set_write_timeout(dur)
            }
            Stream::Vsock(s) => {
                s.set_read_timeout(dur)?;
                s.set_write_timeout(dur)
            }
        }
    }

    /// Close both directions (wakes a reader blocked on it).
    pub fn shutdown(&self) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Vsock(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
            Stream::Vsock(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
            Stream::Vsock(s) => s.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.write_all(buf),
            Stream::Tcp(s) => s.write_all(buf),
            Stream::Vsock(s) => s.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn named(addr: &Address, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{addr}: {e}"))
}

/// Connect (blocking). TCP sets `TCP_NODELAY`; hybrid vsock performs the `CONNECT` exchange.
///
/// # Errors
/// The OS error or the VMM's refusal, naming the address.
pub fn connect(addr: &Address, timeout: Duration) -> io::Result<Stream> {
    let stream = match addr {
        Address::Unix(p) => {
            Stream::Unix(std::os::unix::net::UnixStream::connect(p).map_err(|e| named(addr, e))?)
        }
        Address::Tcp(hp) => {
            let mut last = None;
            let mut found = None;
            for sa in
                std::net::ToSocketAddrs::to_socket_addrs(hp.as_str()).map_err(|e| named(addr, e))?
            {
                match std::net::TcpStream::connect_timeout(&sa, timeout) {
                    Ok(s) => {
                        found = Some(s);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            let s = found.ok_or_else(|| {
                named(addr, last.unwrap_or_else(|| io::ErrorKind::NotFound.into()))
            })?;
            s.set_nodelay(true)?;
            Stream::Tcp(s)
        }
        Address::Vsock { cid, port } => Stream::Vsock(
            vsock::VsockStream::connect_with_cid_port(*cid, *port).map_err(|e| named(addr, e))?,
        ),
        Address::Hybrid { uds, port } => {
            let mut s = std::os::unix::net::UnixStream::connect(uds).map_err(|e| named(addr, e))?;
            s.set_read_timeout(Some(timeout))?;
            s.write_all(format!("CONNECT {port}\n").as_bytes())?;
            let mut line = String::new();
            // One byte at a time: nothing after the newline may be consumed.
            let mut reader = BufReader::with_capacity(1, s.try_clone()?);
            reader.read_line(&mut line).map_err(|e| named(addr, e))?;
            if !line.starts_with("OK ") {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!(
                        "{addr}: the VMM answered {:?} to CONNECT {port}",
                        line.trim_end()
                    ),
                ));
            }
            s.set_read_timeout(None)?;
            Stream::Unix(s)
        }
    };
    Ok(stream)
}

/// The agent side: an async listener (feature `server`).
#[cfg(feature = "server")]
pub mod server {
    use super::{Address, hybrid_listen_path, named};
    use std::io;
    use std::path::PathBuf;
    use tokio::io::{AsyncRead, AsyncWrite};

    /// A connection, as the agent sees it.
    pub trait Conn: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
    impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Conn for T {}

    /// Who is at the other end of an accepted connection.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Peer {
        /// For logs: the address and, for Unix sockets, the peer process.
        pub addr: String,
        /// The peer as a unit for per-peer limits: a vsock CID (one VM), a Unix peer
        /// process (one VMM or vsock device per VM, or one local client), a TCP address.
        pub key: String,
    }

    /// A boxed connection and its peer.
    pub type Accepted = (Box<dyn Conn>, Peer);

    /// A bound listener.
    pub enum Listener {
        /// Unix (also hybrid vsock's `<uds>_<port>`); the path is removed on drop.
        Unix(tokio::net::UnixListener, PathBuf),
        /// TCP.
        Tcp(tokio::net::TcpListener),
        /// AF_VSOCK.
        Vsock(tokio_vsock::VsockListener),
    }

    impl Listener {
        /// Bind. A stale Unix socket file at the path is removed first (a live one is
        /// refused: another agent is serving it).
        ///
        /// # Errors
        /// The OS error, naming the address.
        pub async fn bind(addr: &Address) -> io::Result<Listener> {
            match addr {
                Address::Unix(p) => Self::unix(p.clone(), addr).await,
                Address::Hybrid { uds, port } => {
                    Self::unix(hybrid_listen_path(uds, *port), addr).await
                }
                Address::Tcp(hp) => Ok(Listener::Tcp(
                    tokio::net::TcpListener::bind(hp)
                        .await
                        .map_err(|e| named(addr, e))?,
                )),
                Address::Vsock { cid, port } => Ok(Listener::Vsock(
                    tokio_vsock::VsockListener::bind(tokio_vsock::VsockAddr::new(*cid, *port))
                        .map_err(|e| named(addr, e))?,
                )),
            }
        }

        async fn unix(path: PathBuf, addr: &Address) -> io::Result<Listener> {
            if path.exists() {
                if tokio::net::UnixStream::connect(&path).await.is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("{addr}: {} is served by another process", path.display()),
                    ));
                }
                std::fs::remove_file(&path).map_err(|e| named(addr, e))?;
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| named(addr, e))?;
            }
            let l = tokio::net::UnixListener::bind(&path).map_err(|e| named(addr, e))?;
            Ok(Listener::Unix(l, path))
        }

        /// The local address (TCP: with the real port when bound to port 0).
        pub fn local(&self) -> String {
            match self {
                Listener::Unix(_, p) => format!("unix://{}", p.display()),
                Listener::Tcp(l) => l
                    .local_addr()
                    .map_or_else(|_| "tcp://?".into(), |a| format!("tcp://{a}")),
                Listener::Vsock(l) => l.local_addr().map_or_else(
                    |_| "vsock://?".into(),
                    |a| format!("vsock://{}:{}", a.cid(), a.port()),
                ),
            }
        }

        /// Accept one connection. TCP connections get `TCP_NODELAY`.
        ///
        /// # Errors
        /// The OS error.
        pub async fn accept(&self) -> io::Result<Accepted> {
            Ok(match self {
                Listener::Unix(l, p) => {
                    let (s, _) = l.accept().await?;
                    // SO_PEERCRED: the process that connected (its pid where known).
                    let key = match s.peer_cred() {
                        Ok(c) => match c.pid() {
                            Some(pid) => format!("unix:pid:{pid}"),
                            None => format!("unix:uid:{}", c.uid()),
                        },
                        Err(_) => format!("unix:{}", p.display()),
                    };
                    let addr = format!("unix://{} ({key})", p.display());
                    (Box::new(s), Peer { addr, key })
                }
                Listener::Tcp(l) => {
                    let (s, peer) = l.accept().await?;
                    s.set_nodelay(true)?;
                    let addr = format!("tcp://{peer}");
                    let key = format!("tcp:{}", peer.ip());
                    (Box::new(QuickAck(s)), Peer { addr, key })
                }
                Listener::Vsock(l) => {
                    let (s, peer) = l.accept().await?;
                    let addr = format!("vsock://{}:{}", peer.cid(), peer.port());
                    let key = format!("vsock:{}", peer.cid());
                    (Box::new(s), Peer { addr, key })
                }
            })
        }
    }

    /// A TCP connection that acknowledges what it reads at once (`TCP_QUICKACK`, re-armed
    /// after every read: the kernel drops back to delayed ACKs by itself). Clients that
    /// write a request in pieces with Nagle's algorithm on — ttrpc's writes a frame's
    /// header, then its payload — otherwise wait for the delayed ACK (40 ms on Linux)
    /// before each request's payload leaves.
    struct QuickAck(tokio::net::TcpStream);

    impl tokio::io::AsyncRead for QuickAck {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            let before = buf.filled().len();
            let r = std::pin::Pin::new(&mut self.0).poll_read(cx, buf);
            if matches!(r, std::task::Poll::Ready(Ok(()))) && buf.filled().len() > before {
                // Best effort: a failure only means ACKs stay delayed.
                let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
            }
            r
        }
    }

    impl tokio::io::AsyncWrite for QuickAck {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.0).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
        }
        fn poll_write_vectored(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> std::task::Poll<io::Result<usize>> {
            std::pin::Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
        }
        fn is_write_vectored(&self) -> bool {
            self.0.is_write_vectored()
        }
    }

    impl Drop for Listener {
        fn drop(&mut self) {
            if let Listener::Unix(_, p) = self {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print() {
        for s in [
            "unix:///run/vaccel.sock",
            "tcp://127.0.0.1:65500",
            "vsock://2:2048",
            "hvsock:///tmp/v.sock:2048",
        ] {
            let a: Address = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
        assert_eq!(
            "hvsock:///tmp/fc/v.sock:2048".parse::<Address>().unwrap(),
            Address::Hybrid {
                uds: "/tmp/fc/v.sock".into(),
                port: 2048
            }
        );
        assert_eq!(
            hybrid_listen_path(Path::new("/tmp/v.sock"), 2048),
            PathBuf::from("/tmp/v.sock_2048")
        );
    }

    #[test]
    fn bad_addresses_say_why() {
        for (s, want) in [
            ("localhost:80", "expected scheme"),
            ("tcp://host", "expected tcp://host:port"),
            ("tcp://host:http", "port \"http\" is not a number"),
            ("vsock://2", "expected vsock://cid:port"),
            ("ftp://x", "unknown scheme"),
            ("unix://", "empty socket path"),
        ] {
            let e = s.parse::<Address>().unwrap_err();
            assert!(e.to_string().contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn hybrid_connect_speaks_the_firecracker_handshake() {
        let dir = tempfile::tempdir().unwrap();
        let uds = dir.path().join("v.sock");
        let l = std::os::unix::net::UnixListener::bind(&uds).unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut line = String::new();
            BufReader::new(s.try_clone().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert_eq!(line, "CONNECT 2048\n");
            s.write_all(b"OK 1073741824\nhello").unwrap();
        });
        let mut s = connect(
            &Address::Hybrid {
                uds: uds.clone(),
                port: 2048,
            },
            Duration::from_secs(5),
        )
        .unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(
            &buf, b"hello",
            "bytes after the OK line belong to the stream"
        );
        t.join().unwrap();
    }

    #[test]
    fn connect_errors_name_the_address() {
        let e = connect(
            &"unix:///nonexistent/x.sock".parse().unwrap(),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unix:///nonexistent/x.sock"), "{e}");
    }
}
