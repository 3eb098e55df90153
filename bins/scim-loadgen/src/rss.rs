//! Samples a process's resident memory from `/proc/PID/status` (Linux).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::Error;
use crate::report::RssReport;

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn read(pid: u32) -> Result<(u64, u64), Error> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Pid(pid, e.to_string()))?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss), Some(hwm)) => Ok((rss, hwm)),
        _ => Err(Error::Pid(pid, format!("no VmRSS/VmHWM in {path}"))),
    }
}

/// A background thread sampling every 100 ms until [`Sampler::finish`].
#[derive(Debug)]
pub(crate) struct Sampler {
    pid: u32,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<RssReport>,
}

impl Sampler {
    /// Fails at once if the process cannot be read.
    pub fn start(pid: u32) -> Result<Sampler, Error> {
        read(pid)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("rss-sampler".to_owned())
            .spawn(move || {
                let mut report = RssReport {
                    pid,
                    ..RssReport::default()
                };
                loop {
                    if let Ok((rss, hwm)) = read(pid) {
                        report.peak_rss_kib = report.peak_rss_kib.max(rss);
                        report.vm_hwm_kib = hwm;
                        report.final_rss_kib = rss;
                        report.samples += 1;
                    }
                    if flag.load(Ordering::Relaxed) {
                        return report;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
            .map_err(Error::Thread)?;
        Ok(Sampler { pid, stop, thread })
    }

    /// Takes a last sample and returns the peak.
    pub fn finish(self) -> Result<RssReport, Error> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| Error::Pid(self.pid, "the sampler thread panicked".to_owned()))
    }
}
