//! A minimal SMTP server on loopback for the tests: real sockets, real SMTP
//! dialogue (EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT), every
//! accepted message kept in memory; recipients whose address starts with
//! `bounce` are refused with `550` (a permanent failure). Not a mock transport: the server under
//! test talks to it through lettre exactly as to a production relay.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA section, dot-unstuffed, with CRLF line ends.
    pub data: String,
}

impl Mail {
    /// The body with quoted-printable soft line breaks and `=3D` undone
    /// (enough to read links whatever transfer encoding lettre chose).
    pub fn decoded(&self) -> String {
        self.data.replace("=\r\n", "").replace("=3D", "=")
    }

    /// The activation token of the first `/activate?token=` link.
    pub fn activation_token(&self) -> Option<String> {
        let body = self.decoded();
        let start = body.find("/activate?token=")? + "/activate?token=".len();
        let token: String = body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        (!token.is_empty()).then_some(token)
    }
}

#[derive(Default)]
struct Inbox {
    mails: Mutex<Vec<Mail>>,
    arrived: Condvar,
}

/// The running server; it stops accepting when dropped (the listener thread
/// ends with the test process).
pub struct SmtpServer {
    pub addr: SocketAddr,
    inbox: Arc<Inbox>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let inbox = Arc::new(Inbox::default());
        let shared = inbox.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let inbox = shared.clone();
                std::thread::spawn(move || {
                    let _ = session(stream, &inbox);
                });
            }
        });
        SmtpServer { addr, inbox }
    }

    /// `smtp://127.0.0.1:<port>` for `--smtp-url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.inbox.mails.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages arrived (or the timeout passed);
    /// returns all of them.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        let mut mails = self.inbox.mails.lock().unwrap();
        while mails.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            mails = self.inbox.arrived.wait_timeout(mails, left).unwrap().0;
        }
        mails.clone()
    }
}

fn session(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 localhost test SMTP ready\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                out.write_all(b"250-localhost greets you\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?
            }
            "HELO" => out.write_all(b"250 localhost\r\n")?,
            "MAIL" => {
                from = address(&command);
                to.clear();
                out.write_all(b"250 2.1.0 OK\r\n")?;
            }
            // A mailbox whose local part starts with "bounce" does not exist:
            // a permanent (5xx) refusal, as a real relay gives it.
            "RCPT" if address(&command).starts_with("bounce") => {
                out.write_all(b"550 5.1.1 no such mailbox here\r\n")?;
            }
            "RCPT" => {
                to.push(address(&command));
                out.write_all(b"250 2.1.5 OK\r\n")?;
            }
            "DATA" => {
                out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if lines.read_line(&mut l)? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" || l == ".\n" {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                inbox.mails.lock().unwrap().push(Mail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                });
                inbox.arrived.notify_all();
                out.write_all(b"250 2.0.0 queued\r\n")?;
            }
            "RSET" => {
                from.clear();
                to.clear();
                out.write_all(b"250 2.0.0 OK\r\n")?;
            }
            "NOOP" => out.write_all(b"250 2.0.0 OK\r\n")?,
            "QUIT" => {
                out.write_all(b"221 2.0.0 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"502 5.5.2 command not implemented\r\n")?,
        }
    }
}

/// The address between `<` and `>`.
fn address(command: &str) -> String {
    match (command.find('<'), command.find('>')) {
        (Some(a), Some(b)) if b > a => command[a + 1..b].to_owned(),
        _ => String::new(),
    }
}
