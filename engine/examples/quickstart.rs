//! Quickstart: open a database file, write in a transaction, read it back,
//! iterate a range, use a bucket, and reopen.
//!
//! Run with `cargo run --example quickstart [PATH]`.

use vellum::{Db, Error};

fn main() -> Result<(), Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "quickstart.vellum".to_string());
    let db = Db::open(&path)?;

    // One durable (fsynced) transaction: commit on Ok, abort on Err.
    db.update(|tx| {
        for (i, fruit) in ["apple", "banana", "cherry", "damson", "elderberry"]
            .iter()
            .enumerate()
        {
            tx.put(fruit, format!("{i}"))?;
        }
        let users = tx.create_bucket_if_missing("users")?;
        users.put("alice", "admin")?;
        users.put("bob", "reader")?;
        Ok(())
    })?;

    // A read snapshot: point reads, ranges (forward and reverse), prefixes.
    db.view(|tx| {
        let v = tx.get("banana")?.expect("banana was written");
        println!("banana = {}", String::from_utf8_lossy(&v));
        print!("b..=d:");
        for entry in tx.range("b"..="d") {
            let entry = entry?; // borrowed from the page: no copy
            print!(" {}", String::from_utf8_lossy(entry.key()));
        }
        println!();
        let last = tx.iter().next_back().transpose()?.expect("not empty");
        println!("last key = {}", String::from_utf8_lossy(last.key()));
        let users = tx.bucket("users")?;
        println!("users: {} entries", users.len());
        Ok(())
    })?;
    drop(db);

    // Reopen: everything committed is there.
    let db = Db::open(&path)?;
    let n = db.view(|tx| Ok(tx.len()))?;
    println!("reopened {path}: {n} keys in the default bucket");
    Ok(())
}
