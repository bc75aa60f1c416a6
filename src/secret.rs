//! The one type that holds secret bytes: secret values, rendered environment
//! entries and tokens. It wipes itself on drop, never prints its contents and
//! can only be read through [`SecretBytes::expose`].

use std::fmt;
use zeroize::Zeroize;

/// Secret bytes, zeroized on drop. No `Clone`, no `Display`; `Debug` prints `[redacted]`.
pub(crate) struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of a `String` handed over by a crate, without copying it.
    pub(crate) fn from_string(value: String) -> SecretBytes {
        SecretBytes(value.into_bytes())
    }

    /// Takes ownership of bytes read by kvenv itself.
    #[allow(dead_code)] // used by optional features
    pub(crate) fn new(bytes: Vec<u8>) -> SecretBytes {
        SecretBytes(bytes)
    }

    /// An empty buffer with exactly `capacity` bytes reserved. Callers compute the
    /// final length first so that the buffer never reallocates (a reallocation
    /// would leave an unwiped copy behind).
    pub(crate) fn with_capacity(capacity: usize) -> SecretBytes {
        SecretBytes(Vec::with_capacity(capacity))
    }

    /// Appends bytes; the caller reserved the room with [`SecretBytes::with_capacity`].
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.0.len() + bytes.len() > self.0.capacity() {
            // Grow by hand so that the old buffer is wiped before it is freed.
            let mut grown =
                Vec::with_capacity((self.0.len() + bytes.len()).max(self.0.capacity() * 2));
            grown.extend_from_slice(&self.0);
            std::mem::swap(&mut grown, &mut self.0);
            grown.zeroize();
        }
        self.0.extend_from_slice(bytes);
    }

    /// The secret. Grep for `expose(` to find every place a secret is read.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

impl SecretBytes {
    /// Overwrites every byte of the allocation (length and spare capacity) with zeros.
    fn wipe(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::from_string("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), b"hunter2");
    }

    #[test]
    fn push_within_capacity_does_not_reallocate() {
        let mut s = SecretBytes::with_capacity(6);
        let before = s.0.as_ptr();
        s.push(b"abc");
        s.push(b"def");
        assert_eq!(s.0.as_ptr(), before);
        assert_eq!(s.expose(), b"abcdef");
    }

    #[test]
    #[allow(unsafe_code)]
    fn drop_wipes_the_whole_allocation() {
        let mut s = SecretBytes::with_capacity(48);
        s.push(b"top-secret-value");
        let (ptr, cap) = (s.0.as_ptr(), s.0.capacity());
        // What Drop runs, without the free, so that the memory can be inspected.
        s.wipe();
        assert_eq!((s.0.as_ptr(), s.0.capacity()), (ptr, cap), "wiped in place");
        // SAFETY: `ptr` points at the allocation of `cap` bytes that `s` still owns
        // (wipe neither frees nor reallocates it), and zeroize wrote every byte of
        // it, spare capacity included, so all `cap` bytes are initialized.
        let memory = unsafe { std::slice::from_raw_parts(ptr, cap) };
        assert!(memory.iter().all(|b| *b == 0), "{memory:?}");
    }

    #[test]
    fn push_beyond_capacity_keeps_content() {
        let mut s = SecretBytes::with_capacity(2);
        s.push(b"ab");
        s.push(b"cdef");
        assert_eq!(s.expose(), b"abcdef");
        assert_eq!(s.len(), 6);
    }
}
