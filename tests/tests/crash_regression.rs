//! The crash-recovery regression suite: every case file in `tests/cases/`
//! (a failure the simulator found, shrunk to a minimal op list, or a
//! hand-written scenario) is replayed exactly, with all of the simulator's
//! checks, on every `cargo test`. A case stays here forever once its bug is
//! fixed.
//!
//! Replay one by hand with `vellum-sim replay --case tests/cases/NAME.json
//! --verbose`; add one with `vellum-sim replay SEED --profile P --ops K
//! --shrink --save tests/cases` (see docs/TESTING.md).

use std::path::{Path, PathBuf};

use vellum_sim::{run_case, Case, RunOptions};

fn case_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_saved_case_passes() {
    let files = case_files();
    let mut failures = Vec::new();
    for path in &files {
        let case = match Case::load(path) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{}: cannot load: {e}", path.display()));
                continue;
            }
        };
        let report = run_case(&case, RunOptions::default());
        if let Some(f) = report.failure {
            failures.push(format!(
                "vellum-sim replay --case tests/cases/{}   # {f}{}",
                path.file_name().expect("file name").to_string_lossy(),
                case.note
                    .map(|n| format!(" [saved as: {n}]"))
                    .unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} saved crash-recovery case(s) fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// Every case file parses and round-trips through the writer, so a saved
/// case cannot rot silently.
#[test]
fn case_files_round_trip() {
    for path in case_files() {
        let case = Case::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let again = Case::from_json(&case.to_json()).expect("round trip");
        assert_eq!(again, case, "{}", path.display());
    }
}
