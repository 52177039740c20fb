//! The import's spill: the rows the plan writes, serialized to a temporary
//! file while the files are read, and streamed back in order by the write.
//!
//! Why a file and not memory: a parsed file with its text and rendered
//! answer is some 10 KB, so holding a 100,000-file corpus until the write
//! took 2 GB. Why not read the files again in the write: they would be
//! parsed and rendered inside the write transaction (editors locked out
//! meanwhile on SQLite), and could have changed since they were planned.
//! Each record is a little-endian `u32` length and a `postcard` encoding:
//! compact, and exact for every value (`f64` included, unlike JSON text).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// What the errors of the spill name as their file.
const SPILL: &str = "the import's temporary spill file";

fn io(source: std::io::Error) -> Error {
    Error::Io {
        path: SPILL.to_owned(),
        source,
    }
}

/// Serializes one record (on a worker thread, before [`SpillWriter::push`]).
pub(super) fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(record)
        .map_err(|e| Error::Internal(format!("cannot encode a planned row: {e}")))
}

/// Records appended in order; numbered from 0.
pub(super) struct SpillWriter {
    out: BufWriter<File>,
    count: u32,
}

impl SpillWriter {
    /// A fresh spill in the system's temporary folder, removed when dropped
    /// (the file is unlinked at once, so a crash leaves nothing behind).
    pub(super) fn new() -> Result<Self> {
        Ok(Self {
            out: BufWriter::new(tempfile::tempfile().map_err(io)?),
            count: 0,
        })
    }

    /// Appends an encoded record; returns its number.
    pub(super) fn push(&mut self, encoded: &[u8]) -> Result<u32> {
        let len = u32::try_from(encoded.len())
            .map_err(|_| Error::Internal("a planned row is over 4 GiB".to_owned()))?;
        self.out.write_all(&len.to_le_bytes()).map_err(io)?;
        self.out.write_all(encoded).map_err(io)?;
        let n = self.count;
        self.count += 1;
        Ok(n)
    }

    /// The records from the first, for reading back.
    pub(super) fn into_reader(self) -> Result<SpillReader> {
        let mut file = self.out.into_inner().map_err(|e| io(e.into_error()))?;
        file.rewind().map_err(io)?;
        Ok(SpillReader {
            input: BufReader::new(file),
            next: 0,
            buf: Vec::new(),
        })
    }
}

/// Reads records forward; a record not asked for is skipped.
pub(super) struct SpillReader {
    input: BufReader<File>,
    next: u32,
    buf: Vec<u8>,
}

impl SpillReader {
    /// Record number `n`, which must come after every record read before.
    pub(super) fn read<T: DeserializeOwned>(&mut self, n: u32) -> Result<T> {
        if n < self.next {
            return Err(Error::Internal(format!(
                "planned row {n} asked for after row {}",
                self.next
            )));
        }
        loop {
            let mut len = [0u8; 4];
            self.input.read_exact(&mut len).map_err(io)?;
            let len = u32::from_le_bytes(len) as usize;
            let current = self.next;
            self.next += 1;
            if current < n {
                // Seek past it: its file turned out invalid or a conflict.
                self.input.seek_relative(len as i64).map_err(io)?;
                continue;
            }
            self.buf.resize(len, 0);
            self.input.read_exact(&mut self.buf).map_err(io)?;
            return postcard::from_bytes(&self.buf)
                .map_err(|e| Error::Internal(format!("cannot decode planned row {n}: {e}")));
        }
    }
}
