//! A vector cut into fixed-size chunks shared between copies: cloning it copies one pointer per
//! chunk, and changing a cell copies only that cell's chunk (copy-on-write through
//! `Arc::make_mut`). Every per-row array of a layer, and of what is derived from a layer
//! (road snaps, tile preparation), is one of these, so a change of one row costs one chunk,
//! not the layer.
//!
//! Written by hand: persistent vectors on crates.io (`imbl::Vector`, `rpds::Vector`) are
//! trees with O(log n) reads; a column scan here reads every row of a million-row layer per
//! query, and two array indexings keep that scan at `Vec` speed.

use std::sync::Arc;

/// Rows per chunk: 4,096 rows of 8 bytes copy in about a microsecond.
pub const CHUNK: usize = 4096;
const SHIFT: u32 = CHUNK.trailing_zeros();

/// A copy-on-write chunked vector.
#[derive(Debug)]
pub struct Chunked<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Clone for Chunked<T> {
    fn clone(&self) -> Self {
        Chunked {
            chunks: self.chunks.clone(),
            len: self.len,
        }
    }
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> Chunked<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cell at `i`; panics past the end, as a slice does.
    #[inline]
    pub fn get(&self, i: usize) -> &T {
        assert!(i < self.len, "index {i} past the end ({})", self.len);
        &self.chunks[i >> SHIFT][i & (CHUNK - 1)]
    }

    /// The cell at `i` for writing: copies its chunk if another copy shares it.
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> &mut T {
        assert!(i < self.len, "index {i} past the end ({})", self.len);
        &mut Arc::make_mut(&mut self.chunks[i >> SHIFT])[i & (CHUNK - 1)]
    }

    pub fn set(&mut self, i: usize, v: T) {
        *self.get_mut(i) = v;
    }

    pub fn push(&mut self, v: T) {
        match self.chunks.last_mut() {
            Some(last) if self.len & (CHUNK - 1) != 0 => Arc::make_mut(last).push(v),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(v);
                self.chunks.push(Arc::new(chunk));
            }
        }
        self.len += 1;
    }

    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let v = Arc::make_mut(self.chunks.last_mut()?).pop();
        self.len -= 1;
        if self.len & (CHUNK - 1) == 0 {
            self.chunks.pop();
        }
        v
    }

    /// Removes cell `i`, moving the last cell into its place (as `Vec::swap_remove`).
    pub fn swap_remove(&mut self, i: usize) -> T {
        assert!(i < self.len, "index {i} past the end ({})", self.len);
        let last = self.pop().expect("non-empty");
        if i == self.len {
            last
        } else {
            std::mem::replace(self.get_mut(i), last)
        }
    }

    /// Shortens to `len` cells (no-op when already shorter).
    pub fn truncate(&mut self, len: usize) {
        while self.len > len {
            self.pop();
        }
    }

    /// Resizes to `len`, filling new cells with `fill`.
    pub fn resize(&mut self, len: usize, fill: T) {
        self.truncate(len);
        while self.len < len {
            self.push(fill.clone());
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &T> + DoubleEndedIterator + '_ {
        ChunkIter {
            inner: self.chunks.iter().flat_map(|c| c.iter()),
            left: self.len,
        }
    }

    /// The chunks as slices, in order: for scans that want `Vec` speed.
    pub fn chunks(&self) -> impl Iterator<Item = &[T]> + '_ {
        self.chunks.iter().map(|c| c.as_slice())
    }
}

struct ChunkIter<I> {
    inner: I,
    left: usize,
}

impl<'a, T: 'a, I: Iterator<Item = &'a T>> Iterator for ChunkIter<I> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        let v = self.inner.next()?;
        self.left -= 1;
        Some(v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a, T: 'a, I: Iterator<Item = &'a T> + DoubleEndedIterator> DoubleEndedIterator
    for ChunkIter<I>
{
    fn next_back(&mut self) -> Option<&'a T> {
        let v = self.inner.next_back()?;
        self.left -= 1;
        Some(v)
    }
}

impl<'a, T: 'a, I: Iterator<Item = &'a T>> ExactSizeIterator for ChunkIter<I> {}

impl<T: Clone> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut out = Chunked::new();
        for v in iter {
            out.push(v);
        }
        out
    }
}

impl<T: Clone> From<Vec<T>> for Chunked<T> {
    fn from(v: Vec<T>) -> Self {
        v.into_iter().collect()
    }
}

impl<T: Clone> std::ops::Index<usize> for Chunked<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: usize) -> &T {
        self.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a `Vec` driven by the same operations (the oracle).
    #[test]
    fn behaves_as_a_vec_and_copies_share_untouched_chunks() {
        let mut v: Vec<u64> = Vec::new();
        let mut c: Chunked<u64> = Chunked::new();
        let mut seed = 7u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..30_000 {
            match rnd() % 5 {
                0 | 1 => {
                    let x = rnd();
                    v.push(x);
                    c.push(x);
                }
                2 if !v.is_empty() => {
                    let i = (rnd() as usize) % v.len();
                    assert_eq!(v.swap_remove(i), c.swap_remove(i));
                }
                3 if !v.is_empty() => {
                    let i = (rnd() as usize) % v.len();
                    let x = rnd();
                    v[i] = x;
                    c.set(i, x);
                }
                _ => assert_eq!(v.pop(), c.pop()),
            }
            assert_eq!(v.len(), c.len());
        }
        assert!(v.iter().eq(c.iter()));
        assert_eq!(c.iter().len(), v.len());
        let copy = c.clone();
        if !v.is_empty() {
            c.set(0, 1);
            assert_eq!(copy[0], v[0]);
            assert!(
                Arc::ptr_eq(copy.chunks.last().unwrap(), c.chunks.last().unwrap())
                    || c.chunks.len() == 1
            );
        }
    }
}
