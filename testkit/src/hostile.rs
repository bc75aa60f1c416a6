//! Servers that misbehave on purpose, on 127.0.0.1 only: they reset the
//! connection right after the TLS handshake, send a body that never ends, drip
//! one byte at a time, or declare a huge body. Each works with plain blocking
//! sockets so that nothing in them is polite by accident, and each is bounded:
//! it stops writing after a time limit, a byte limit, or when dropped.
//!
//! A loopback DNS server that answers every question with loopback addresses
//! (and logs the names it was asked) is here too.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a hostile server does with each connection.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Completes the TLS handshake (on a plain server: accepts), then resets.
    ResetAfterHandshake,
    /// Reads the request's head, then resets.
    ResetAfterRequest,
    /// Reads the request's head, answers `503` with keep-alive, then resets
    /// the connection while the client waits to retry on it.
    ResetAfterAnswer,
    /// Reads the request, answers 200 with a chunked body that never ends.
    EndlessBody,
    /// Reads the request, answers 200 declaring a body of this many bytes and sends it.
    Declared(u64),
    /// Reads the request, sends the status line, then one byte per interval.
    Drip(Duration),
    /// HTTP/2 (give it a server config that offers h2): reads the client's
    /// preface, sends its SETTINGS and at once a GOAWAY that accepts no
    /// stream, then holds the connection open without a word more.
    GoAwayAfterSettings,
}

/// No connection is served longer than this, nor sends more than `BYTE_LIMIT`.
const TIME_LIMIT: Duration = Duration::from_secs(30);
const BYTE_LIMIT: u64 = 8 << 30;

pub struct HostileServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    sent: Arc<AtomicUsize>,
    open: Arc<Open>,
}

/// Connections open now, and the most open at once.
#[derive(Default)]
struct Open {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// Counts one connection as open while it lives.
struct Held(Arc<Open>);

impl Held {
    fn new(open: &Arc<Open>) -> Held {
        let now = open.now.fetch_add(1, Ordering::SeqCst) + 1;
        open.peak.fetch_max(now, Ordering::SeqCst);
        Held(open.clone())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

impl HostileServer {
    /// Over TLS with `tls` (a `TestCa` server config), or plain HTTP with `None`.
    pub fn start(tls: Option<Arc<rustls::ServerConfig>>, behaviour: Behaviour) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(Open::default());
        let (stop2, accepted2, sent2, open2) =
            (stop.clone(), accepted.clone(), sent.clone(), open.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                accepted2.fetch_add(1, Ordering::SeqCst);
                let (tls, stop, sent) = (tls.clone(), stop2.clone(), sent2.clone());
                let held = Held::new(&open2);
                std::thread::spawn(move || {
                    serve(stream, tls, behaviour, &stop, &sent);
                    drop(held);
                });
            }
        });
        HostileServer {
            addr,
            stop,
            accepted,
            sent,
            open,
        }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The most connections that were open at once.
    pub fn peak_open(&self) -> usize {
        self.open.peak.load(Ordering::SeqCst)
    }

    /// Body bytes written so far, over all connections.
    pub fn bytes_sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }
}

/// Closes with a TCP reset instead of a FIN.
#[cfg(unix)]
fn reset(stream: &TcpStream) {
    use std::os::fd::AsFd;
    let linger = nix::libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let _ =
        nix::sys::socket::setsockopt(&stream.as_fd(), nix::sys::socket::sockopt::Linger, &linger);
}

/// Elsewhere (the unit tests built for Windows do not start these servers).
#[cfg(not(unix))]
fn reset(_stream: &TcpStream) {}

fn serve(
    mut tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    behaviour: Behaviour,
    stop: &AtomicBool,
    sent: &AtomicUsize,
) {
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(tls) = tls else {
        if let Behaviour::ResetAfterHandshake = behaviour {
            reset(&tcp);
            return;
        }
        let _ = exchange(&mut tcp, behaviour, stop, sent);
        if matches!(
            behaviour,
            Behaviour::ResetAfterRequest | Behaviour::ResetAfterAnswer
        ) {
            reset(&tcp);
        }
        return;
    };
    let Ok(mut conn) = rustls::ServerConnection::new(tls) else {
        return;
    };
    if let Behaviour::ResetAfterHandshake = behaviour {
        // Send our whole flight (ServerHello .. Finished), then reset before the
        // client's Finished arrives: its next write meets the reset.
        while conn.is_handshaking() && !conn.wants_write() {
            if conn.read_tls(&mut tcp).unwrap_or(0) == 0 || conn.process_new_packets().is_err() {
                return;
            }
        }
        while conn.wants_write() {
            if conn.write_tls(&mut tcp).is_err() {
                return;
            }
        }
        reset(&tcp);
        return;
    }
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let _ = exchange(&mut stream, behaviour, stop, sent);
    if matches!(
        behaviour,
        Behaviour::ResetAfterRequest | Behaviour::ResetAfterAnswer
    ) {
        reset(&stream.sock);
    }
}

/// Reads one request's head, then misbehaves.
fn exchange(
    stream: &mut (impl Read + Write),
    behaviour: Behaviour,
    stop: &AtomicBool,
    sent: &AtomicUsize,
) -> std::io::Result<()> {
    if let Behaviour::GoAwayAfterSettings = behaviour {
        return go_away(stream, stop);
    }
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 {
        if stream.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    if let Behaviour::ResetAfterRequest = behaviour {
        return Ok(());
    }
    if let Behaviour::ResetAfterAnswer = behaviour {
        stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\n\r\n{}")?;
        stream.flush()?;
        std::thread::sleep(Duration::from_millis(20));
        return Ok(());
    }
    let started = Instant::now();
    let going = |written: u64| {
        !stop.load(Ordering::SeqCst) && started.elapsed() < TIME_LIMIT && written < BYTE_LIMIT
    };
    let chunk = vec![b'a'; 64 << 10];
    match behaviour {
        Behaviour::EndlessBody => {
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")?;
            stream.write_all(b"10000\r\n{\"access_token\":\"")?;
            stream.write_all(&chunk[..(64 << 10) - 17])?;
            stream.write_all(b"\r\n")?;
            let mut written = 0u64;
            while going(written) {
                stream.write_all(b"10000\r\n")?;
                stream.write_all(&chunk)?;
                stream.write_all(b"\r\n")?;
                written += chunk.len() as u64;
                sent.fetch_add(chunk.len(), Ordering::SeqCst);
            }
        }
        Behaviour::Declared(length) => {
            stream.write_all(
                format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n")
                    .as_bytes(),
            )?;
            let mut written = 0u64;
            while written < length && going(written) {
                let n = chunk.len().min((length - written) as usize);
                stream.write_all(&chunk[..n])?;
                written += n as u64;
                sent.fetch_add(n, Ordering::SeqCst);
            }
        }
        Behaviour::Drip(interval) => {
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n")?;
            let mut written = 0u64;
            while going(written) {
                stream.write_all(b" ")?;
                stream.flush()?;
                written += 1;
                sent.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(interval);
            }
        }
        _ => {}
    }
    stream.flush()
}

/// The client's preface, then SETTINGS (empty) and GOAWAY (last stream 0,
/// NO_ERROR); then whatever the client sends is read and dropped until it
/// closes, the server stops or the time limit passes.
fn go_away(stream: &mut (impl Read + Write), stop: &AtomicBool) -> std::io::Result<()> {
    let mut preface = [0u8; 24];
    stream.read_exact(&mut preface)?;
    let settings = [0, 0, 0, 4, 0, 0, 0, 0, 0];
    let goaway = [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    stream.write_all(&settings)?;
    stream.write_all(&goaway)?;
    stream.flush()?;
    let started = Instant::now();
    let mut sink = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) && started.elapsed() < TIME_LIMIT {
        match stream.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => break,
        }
    }
    Ok(())
}

/// A DNS server on a UDP port of 127.0.0.1 that answers every A question with
/// `a` and every AAAA question with `aaaa` (no answer where `None`: it stays
/// silent), and records every name it was asked.
pub struct FakeDns {
    addr: SocketAddr,
    nxdomain: Arc<AtomicBool>,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The port is free again once this returns.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl FakeDns {
    /// Binds `addr` (port 53 on a loopback address needs root).
    pub fn start(
        addr: &str,
        a: Option<std::net::Ipv4Addr>,
        aaaa: Option<std::net::Ipv6Addr>,
    ) -> std::io::Result<FakeDns> {
        let socket = UdpSocket::bind(addr)?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = socket.local_addr()?;
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let nxdomain = Arc::new(AtomicBool::new(false));
        let (asked2, stop2, nxdomain2) = (asked.clone(), stop.clone(), nxdomain.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !stop2.load(Ordering::SeqCst) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let no_such_name = nxdomain2.load(Ordering::SeqCst);
                if let Some((name, answer)) = answer(&buf[..n], a, aaaa, no_such_name) {
                    asked2.lock().unwrap().push(name);
                    if let Some(answer) = answer {
                        let _ = socket.send_to(&answer, peer);
                    }
                }
            }
        });
        Ok(FakeDns {
            addr,
            nxdomain,
            asked,
            stop,
            thread: Some(thread),
        })
    }

    /// From now on, answer every question with "no such name" (NXDOMAIN).
    pub fn no_such_names(&self) {
        self.nxdomain.store(true, Ordering::SeqCst);
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every name asked so far (lower case, no trailing dot).
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

/// The name in a query and, unless the server is to stay silent, the answer.
fn answer(
    query: &[u8],
    a: Option<std::net::Ipv4Addr>,
    aaaa: Option<std::net::Ipv6Addr>,
    nxdomain: bool,
) -> Option<(String, Option<Vec<u8>>)> {
    if query.len() < 12 {
        return None;
    }
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
    let question_end = pos + 4;
    let name = labels.join(".");
    let rdata: Option<Vec<u8>> = match qtype {
        1 => a.map(|ip| ip.octets().to_vec()),
        28 => aaaa.map(|ip| ip.octets().to_vec()),
        _ => None,
    };
    let silent = matches!((qtype, a, aaaa), (1, None, _) | (28, _, None));
    if nxdomain {
        let mut out = query.get(..question_end)?.to_vec();
        out[2] = 0x81;
        out[3] = 0x83; // recursion available, NXDOMAIN
        out[6..12].fill(0);
        return Some((name, Some(out)));
    }
    if silent {
        return Some((name, None));
    }
    let mut out = query.get(..question_end)?.to_vec();
    out[2] = 0x81; // response, recursion desired
    out[3] = 0x80; // recursion available, no error
    out[6] = 0;
    out[7] = u8::from(rdata.is_some()); // answer count
    out[8..12].fill(0);
    if let Some(rdata) = rdata {
        out.extend_from_slice(&[0xc0, 0x0c]); // the name in the question
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0, 60]); // IN, TTL 60
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some((name, Some(out)))
}
