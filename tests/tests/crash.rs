//! Killed processes: a child process (the `crash_child` binary of this
//! crate, see `vellum_tests::crash_workload`) commits in a loop and reports each
//! acknowledged commit on stdout; the parent kills it with SIGKILL at
//! varying moments, reopens the file and checks that every acknowledged
//! commit is there, the state is one committed state, and `check()` passes.
//! Also crash images (a copy of the file taken while a writer is open).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vellum::{Db, Durability};
use vellum_tests::crash_workload::{big_value, child_commit, last_commit, opts, GEN_KEYS};
use vellum_tests::util::{assert_check_ok, dump, num_key, Rng};

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.vellum");
    (dir, path)
}

/// Checks that the database holds exactly the state after commit `last`.
fn verify_state(db: &Db, mixed: bool) -> Option<u64> {
    let Some(last) = last_commit(db) else {
        assert!(
            dump(db).unwrap().values().all(|m| m.is_empty()),
            "keys without a commit"
        );
        return None;
    };
    let tx = db.begin_read().unwrap();
    for j in 0..GEN_KEYS {
        assert_eq!(
            tx.get(num_key("g", j)).unwrap().map(|v| v.to_vec()),
            Some([last.to_le_bytes(), j.to_le_bytes()].concat()),
            "gen key {j} is not from commit {last}"
        );
    }
    let commits = tx
        .prefix(b"c")
        .map(|e| e.unwrap().key().to_vec())
        .collect::<Vec<_>>();
    let want: Vec<Vec<u8>> = (0..=last).map(|i| num_key("c", i)).collect();
    assert!(commits == want, "commit keys are not exactly 0..={last}");
    let m = tx.bucket(b"mirror").unwrap();
    for i in 0..=last {
        let deleted = mixed && i + 10 <= last && (i + 10) % 10 == 5;
        let got = m.get(num_key("c", i)).unwrap().map(|v| v.to_vec());
        if deleted {
            assert_eq!(got, None, "mirror {i} should be deleted at {last}");
        } else {
            assert_eq!(
                got,
                Some(vec![i as u8; (i % 300) as usize]),
                "mirror {i} at {last}"
            );
        }
    }
    if mixed {
        let want = big_value(last - last % 10);
        assert!(
            tx.get(b"big").unwrap().map(|v| v.to_vec()).unwrap() == want,
            "big value at {last}"
        );
    }
    drop(tx);
    assert_check_ok(db);
    Some(last)
}

/// Helper run in a child process: opens the database named in the
/// environment and commits forever, printing `ack N` after each commit.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

fn spawn_child(path: &Path, mixed: bool, durability: Durability) -> Running {
    let spec = format!(
        "{}|{}|{}",
        path.display(),
        if mixed { "mixed" } else { "small" },
        if durability == Durability::Eventual {
            "eventual"
        } else {
            "immediate"
        }
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_child"))
        .arg(spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    Running { child, lines }
}

/// Lets the child make `acks` commits (with `acks == 0`: run for `delay`,
/// possibly still opening), kills it with SIGKILL and returns the highest
/// acknowledged commit.
fn run_and_kill(mut r: Running, acks: u64, delay: Duration) -> Option<u64> {
    let mut last_ack = None;
    let parse = |line: &str| {
        line.strip_prefix("ack ")
            .map(|n| n.trim().parse::<u64>().unwrap())
    };
    if acks == 0 {
        std::thread::sleep(delay);
    } else {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = 0;
        while seen < acks {
            assert!(Instant::now() < deadline, "the child is too slow");
            match r.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(n) = parse(&line) {
                        last_ack = Some(n);
                        seen += 1;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = r.child.try_wait() {
                        panic!("the child exited early: {status}");
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the child closed its output"),
            }
        }
    }
    r.child.kill().unwrap();
    r.child.wait().unwrap();
    // Acks printed before the kill are still in the pipe.
    for line in r.lines.iter() {
        if let Some(n) = parse(&line) {
            last_ack = Some(n);
        }
    }
    last_ack
}

fn kill_rounds(mixed: bool, durability: Durability, rounds: &[(u64, u64)]) {
    let (_d, path) = tmp();
    let mut floor: Option<u64> = None;
    for (round, &(acks, delay_ms)) in rounds.iter().enumerate() {
        let r = spawn_child(&path, mixed, durability);
        let acked = run_and_kill(r, acks, Duration::from_millis(delay_ms));
        let db = opts(durability)
            .open(&path)
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e:?}"));
        let last = verify_state(&db, mixed);
        // A killed process loses no acknowledged commit (its writes are in
        // the operating system's cache), whatever the durability mode.
        assert!(
            last >= acked,
            "round {round}: acknowledged commit {acked:?} lost, found {last:?}"
        );
        assert!(
            last >= floor,
            "round {round}: recovered state went back from {floor:?} to {last:?}"
        );
        floor = last;
        drop(db);
    }
    assert!(
        floor.is_some_and(|f| f > 10),
        "the children made progress: {floor:?}"
    );
}

#[test]
fn killed_writer_loses_no_acknowledged_commit() {
    kill_rounds(
        false,
        Durability::Immediate,
        &[(5, 0), (40, 0), (0, 30), (1, 0), (100, 0), (0, 5), (25, 0)],
    );
}

#[test]
fn killed_writer_with_checkpoints_and_large_values() {
    kill_rounds(
        true,
        Durability::Immediate,
        &[(12, 0), (37, 0), (0, 40), (3, 0), (60, 0), (0, 10), (21, 0)],
    );
}

#[test]
fn killed_eventual_writer_recovers_a_committed_state() {
    kill_rounds(
        true,
        Durability::Eventual,
        &[(50, 0), (0, 20), (120, 0), (7, 0), (200, 0)],
    );
}

/// A crash image is the file as a killed process leaves it: every write
/// issued so far, no closing checkpoint.
fn crash_image(path: &Path, to: &Path) {
    std::fs::copy(path, to).unwrap();
}

#[test]
fn crash_image_replays_the_log_and_read_only_open_leaves_it_untouched() {
    let (_d, path) = tmp();
    let db = opts(Durability::Immediate).open(&path).unwrap();
    for i in 0..30 {
        child_commit(&db, i, true).unwrap();
        if i == 12 {
            db.checkpoint().unwrap();
        }
    }
    let image = path.with_extension("image");
    crash_image(&path, &image);
    drop(db);
    // Read-only: replays in memory and never writes.
    let before = std::fs::read(&image).unwrap();
    {
        let ro = opts(Durability::Immediate)
            .read_only(true)
            .open(&image)
            .unwrap();
        assert!(
            ro.replayed_on_open() > 0,
            "the log holds uncheckpointed commits"
        );
        assert_eq!(verify_state(&ro, true), Some(29));
        let ro2 = opts(Durability::Immediate)
            .read_only(true)
            .open(&image)
            .unwrap();
        assert_eq!(verify_state(&ro2, true), Some(29));
    }
    assert!(
        std::fs::read(&image).unwrap() == before,
        "a read-only open wrote to the file"
    );
    // Read-write: replays and checkpoints; the next open replays nothing.
    let db = opts(Durability::Immediate).open(&image).unwrap();
    assert!(db.replayed_on_open() > 0);
    assert_eq!(verify_state(&db, true), Some(29));
    child_commit(&db, 30, true).unwrap();
    drop(db);
    let db = opts(Durability::Immediate).open(&image).unwrap();
    assert_eq!(db.replayed_on_open(), 0);
    assert_eq!(verify_state(&db, true), Some(30));
}

/// Crash images taken after every commit of a workload, each recovered
/// independently (and recovered twice: a crash during recovery).
#[test]
fn crash_image_after_every_commit_recovers_exactly_that_commit() {
    for durability in [Durability::Immediate, Durability::Eventual] {
        let (_d, path) = tmp();
        let db = opts(durability).open(&path).unwrap();
        let mut rng = Rng::new(21);
        for i in 0..40 {
            child_commit(&db, i, true).unwrap();
            if rng.chance(1, 6) {
                db.checkpoint().unwrap();
            }
            let image = path.with_extension(format!("img{i}"));
            crash_image(&path, &image);
            let copy = path.with_extension(format!("img{i}b"));
            crash_image(&image, &copy);
            {
                let r = opts(durability).open(&image).unwrap();
                assert_eq!(
                    verify_state(&r, true),
                    Some(i),
                    "{durability:?} image after commit {i}"
                );
                // Crash right after recovery: recovered again from the same image.
                let again = image.with_extension(format!("img{i}c"));
                crash_image(&image, &again);
                drop(r);
                let r = opts(durability).open(&again).unwrap();
                assert_eq!(verify_state(&r, true), Some(i));
            }
            // The untouched copy recovers the same way read-only.
            let r = opts(durability).read_only(true).open(&copy).unwrap();
            assert_eq!(verify_state(&r, true), Some(i));
        }
    }
}
