#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A child process writing continuously is killed with SIGKILL at random moments, 100 times;
//! every reopen succeeds and holds every entry the child saw acknowledged (durability "always").

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bsc_core::{Cache, CacheConfig, Durability, Encoder, PersistOptions};

const CHILD_ENV: &str = "BSC_CRASH_CHILD_DIR";
const KILLS: usize = 100;

fn options(durability: Durability) -> PersistOptions {
    PersistOptions {
        durability,
        read_only: false,
        inherit_max_entries: false,
    }
}

fn config() -> CacheConfig {
    CacheConfig {
        max_entries: 1_000_000,
        ..CacheConfig::default()
    }
}

fn vector(i: u64) -> Vec<f32> {
    (0..8)
        .map(|d| ((i * 31 + d * 17) % 97) as f32 - 48.0)
        .collect()
}

/// The child: puts entries (and now and then saves a snapshot) until it is killed, printing
/// each entry once its put has returned.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let encoder = Encoder::new(8, 64, 1).unwrap();
    let cache = Cache::open(
        Path::new(&dir),
        Some(encoder),
        config(),
        options(Durability::EveryWrite),
    )
    .unwrap();
    let mut i = cache.len() as u64 * 1000 + std::process::id() as u64;
    loop {
        i += 1;
        cache
            .put(&vector(i), "p", 0, &i.to_le_bytes(), None)
            .unwrap();
        println!("acked {i}");
        if i.is_multiple_of(37) {
            cache.save().unwrap();
        }
    }
}

fn run_child_until_killed(dir: &Path, after_acks: usize) -> Vec<u64> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("acked ") {
                if tx.send(n.parse::<u64>().unwrap()).is_err() {
                    break;
                }
            }
        }
    });
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.len() < after_acks && Instant::now() < deadline {
        if let Ok(n) = rx.recv_timeout(Duration::from_millis(50)) {
            acked.push(n);
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    acked.extend(rx.try_iter());
    reader.join().unwrap();
    acked
}

#[test]
fn every_acknowledged_entry_survives_sigkill() {
    let dir: PathBuf = std::env::temp_dir().join(format!("bsc-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let mut acknowledged = BTreeSet::new();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for round in 0..KILLS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let acks = 1 + (seed % 40) as usize;
        acknowledged.extend(run_child_until_killed(&dir, acks));
        let cache = Cache::open(&dir, None, config(), options(Durability::Manual))
            .unwrap_or_else(|e| panic!("reopen after kill {round} failed: {e}"));
        let held: BTreeSet<u64> = cache
            .entries()
            .into_iter()
            .map(|e| u64::from_le_bytes(e.payload.try_into().unwrap()))
            .collect();
        let missing: Vec<_> = acknowledged.difference(&held).take(5).collect();
        assert!(
            missing.is_empty(),
            "kill {round}: acknowledged entries lost: {missing:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "crash test over its time bound"
        );
    }
    assert!(acknowledged.len() >= KILLS);
    std::fs::remove_dir_all(&dir).unwrap();
}
