//! Child process of the killed-process tests: commits forever, printing
//! `ack N` after each acknowledged commit, until the parent kills it.

use std::path::PathBuf;

use vellum::Durability;
use vellum_tests::crash_workload::{child_commit, last_commit, opts};

fn main() {
    let spec = std::env::args()
        .nth(1)
        .expect("usage: crash_child PATH|small|mixed|immediate|eventual");
    let mut parts = spec.split('|');
    let path = PathBuf::from(parts.next().unwrap());
    let mixed = parts.next() == Some("mixed");
    let durability = match parts.next() {
        Some("eventual") => Durability::Eventual,
        _ => Durability::Immediate,
    };
    let db = opts(durability).open(&path).unwrap();
    let start = last_commit(&db).map_or(0, |l| l + 1);
    println!("start {start}");
    for i in start.. {
        child_commit(&db, i, mixed).unwrap();
        println!("ack {i}");
        if mixed && i % 7 == 3 {
            db.checkpoint().unwrap();
        }
    }
}
