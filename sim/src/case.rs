//! Case files: a seed, a disk profile, the engine options and an explicit
//! op list, as JSON with one op per line. A case replays exactly: the disk's
//! randomness comes from the seed and the ops are written out, so a shrunk
//! case needs no generator.
//!
//! ```
//! use vellum_sim::case::Case;
//! let case = Case::generate(7, "torn", 50);
//! let text = case.to_json();
//! let back = Case::from_json(&text).unwrap();
//! assert_eq!(back.ops, case.ops);
//! assert_eq!(back.seed, 7);
//! ```

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::workload::{generate, DbConfig, Op};

/// One replayable run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The run's seed: the disk's randomness (and the runner's few
    /// choices) derive from it.
    pub seed: u64,
    /// Disk profile name (see [`crate::FaultConfig::profile`]).
    pub profile: String,
    /// Engine options.
    pub config: DbConfig,
    /// What this case found when it was saved (free text; not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The operations.
    pub ops: Vec<Op>,
}

impl Case {
    /// The generated workload of `seed` for `profile`, about `ops` long.
    pub fn generate(seed: u64, profile: &str, ops: usize) -> Case {
        let (config, ops) = generate(seed, profile, ops);
        Case {
            seed,
            profile: profile.to_string(),
            config,
            note: None,
            ops,
        }
    }

    /// JSON with one op per line.
    pub fn to_json(&self) -> String {
        let j = |v: &dyn erased::Ser| v.json();
        let mut out = String::from("{\n");
        out += &format!("  \"seed\": {},\n", self.seed);
        out += &format!("  \"profile\": {},\n", j(&self.profile));
        out += &format!("  \"config\": {},\n", j(&self.config));
        if let Some(n) = &self.note {
            out += &format!("  \"note\": {},\n", j(n));
        }
        out += "  \"ops\": [\n";
        for (i, op) in self.ops.iter().enumerate() {
            let sep = if i + 1 < self.ops.len() { "," } else { "" };
            out += &format!("    {}{sep}\n", j(op));
        }
        out += "  ]\n}\n";
        out
    }

    /// Parses [`Case::to_json`]'s output (or any equivalent JSON).
    pub fn from_json(text: &str) -> Result<Case, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Reads a case file.
    pub fn load(path: &Path) -> io::Result<Case> {
        let text = std::fs::read_to_string(path)?;
        Case::from_json(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Writes a case file (creating its directory).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.to_json())
    }
}

mod erased {
    /// Serialization to a compact JSON string, object-safe.
    pub trait Ser {
        fn json(&self) -> String;
    }

    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).expect("case values serialize")
        }
    }
}
