//! Positional reads and writes on Windows, where `seek_read` and
//! `seek_write` may transfer less than asked. Not compiled on the Linux CI,
//! so `.cargo/mutants.toml` leaves this file out.

use std::fs::File;
use std::io;
use std::os::windows::fs::FileExt;

/// Reads exactly `buf.len()` bytes at `offset`; `UnexpectedEof` past the end.
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let n = file.seek_read(&mut buf[done..], offset + done as u64)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        done += n;
    }
    Ok(())
}

/// Writes all of `buf` at `offset`.
pub(crate) fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        done += file.seek_write(&buf[done..], offset + done as u64)?;
    }
    Ok(())
}
