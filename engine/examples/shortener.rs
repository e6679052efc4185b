//! A small URL shortener on vellum's typed API: typed buckets, a sequence
//! for the link ids, a subscription that watches new links, and reader
//! threads resolving short codes while links are added.
//!
//! Run it with `cargo run --example shortener` (it works in a temporary
//! directory and prints what it did).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use vellum::codec::KeyCodec;
use vellum::{BucketDef, Change, Db, Event, Result};

/// Link id -> target URL. The ids come from this bucket's sequence.
const LINKS: BucketDef<u64, String> = BucketDef::new("links");
/// Target URL -> link id, so that shortening the same URL twice gives
/// the same link.
const BY_URL: BucketDef<String, u64> = BucketDef::new("by-url");
/// (link id, day) -> clicks on that day.
const CLICKS: BucketDef<(u64, u32), u64> = BucketDef::new("clicks");

/// The short code of a link id (base 36).
fn code(mut id: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(id % 36) as usize]);
        id /= 36;
        if id == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

/// The link id of a short code.
fn id_of(code: &str) -> Option<u64> {
    u64::from_str_radix(code, 36).ok()
}

/// Shortens `url`: its existing link, or a new one with the next id.
fn shorten(db: &Db, url: &str) -> Result<String> {
    db.update(|tx| {
        let by_url = tx.open(&BY_URL)?;
        if let Some(id) = by_url.get(url)? {
            return Ok(code(id));
        }
        let links = tx.open(&LINKS)?;
        let id = links.untyped().next_id()?;
        links.put(&id, url)?;
        by_url.put(url, &id)?;
        Ok(code(id))
    })
}

/// Resolves a short code and counts the click on `day`.
fn resolve(db: &Db, short: &str, day: u32) -> Result<Option<String>> {
    let Some(id) = id_of(short) else {
        return Ok(None);
    };
    // A snapshot read first: most codes resolve without the writer.
    let Some(url) = db.begin_read()?.open(&LINKS)?.get(&id)? else {
        return Ok(None);
    };
    db.update(|tx| {
        let clicks = tx.open(&CLICKS)?;
        let n = clicks.get(&(id, day))?.unwrap_or(0);
        clicks.put(&(id, day), &(n + 1))
    })?;
    Ok(Some(url))
}

/// Clicks per link id over all days, by a typed range per link.
fn report(db: &Db) -> Result<BTreeMap<String, u64>> {
    let tx = db.begin_read()?;
    let links = tx.open(&LINKS)?;
    let clicks = tx.open(&CLICKS)?;
    let mut out = BTreeMap::new();
    for link in links.iter() {
        let (id, url) = link?;
        let mut total = 0;
        for day in clicks.range((id, 0)..=(id, u32::MAX)) {
            total += day?.1;
        }
        out.insert(format!("{} {url}", code(id)), total);
    }
    Ok(out)
}

fn main() -> Result<()> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Db::open(dir.path().join("shortener.vellum"))?;

    // Watch new links: every put into "links", once it is durable.
    let watch = db.subscribe(LINKS.name(), b"", 1024)?;
    let watcher = thread::spawn(move || {
        let mut seen = Vec::new();
        for event in watch {
            match event {
                Event::Changes { txn, changes } => {
                    for change in changes {
                        if let Change::Put { key, .. } = change {
                            let id = <u64 as KeyCodec>::decode_key(&key).expect("a u64 key");
                            seen.push((txn, code(id)));
                        }
                    }
                }
                Event::Lagged { resume_after } => {
                    println!(
                        "watcher lagged; would resync from a snapshot after txn {resume_after}"
                    );
                }
            }
        }
        seen // the iterator ends when the database closes
    });

    let urls = [
        "https://example.com/a",
        "https://example.com/b",
        "https://example.org/",
        "https://example.com/a", // again: the same link
    ];
    let mut codes = Vec::new();
    for url in urls {
        let short = shorten(&db, url)?;
        println!("{url} -> {short}");
        codes.push(short);
    }
    assert_eq!(codes[0], codes[3]);

    // Reader threads resolve codes while new links keep coming.
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (db, codes, stop) = (db.clone(), codes.clone(), stop.clone());
            thread::spawn(move || -> Result<u64> {
                let mut resolved = 0;
                while !stop.load(Ordering::Relaxed) {
                    for short in &codes {
                        if resolve(&db, short, 20_000 + r)?.is_some() {
                            resolved += 1;
                        }
                    }
                }
                Ok(resolved)
            })
        })
        .collect();
    for i in 0..20 {
        shorten(&db, &format!("https://example.net/{i}"))?;
    }
    thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let mut resolved = 0;
    for r in readers {
        resolved += r.join().expect("reader thread")?;
    }
    println!("{resolved} clicks resolved by 2 reader threads");

    let clicks = report(&db)?;
    for (link, n) in clicks.iter().take(4) {
        println!("{link}: {n} clicks");
    }
    assert_eq!(clicks.values().sum::<u64>(), resolved);

    db.close()?;
    let seen = watcher.join().expect("watcher thread");
    println!("the watcher saw {} new links, in commit order", seen.len());
    assert_eq!(seen.len(), 23);
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    Ok(())
}
