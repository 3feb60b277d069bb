//! The generator's random numbers: ChaCha8 keyed by the seed, one stream per program index, so
//! program `k` of a corpus is regenerated alone and the same on every version of the crate.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A random source for one program: ChaCha8 keyed by `seed`, stream `index`.
pub(crate) struct Rng(ChaCha8Rng);

impl Rng {
    /// The stream of program `index` of corpus `seed`.
    pub(crate) fn new(seed: u64, index: u64) -> Rng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        // A fixed tag in the key, so that these streams are bpfsmith gen's own.
        key[8..24].copy_from_slice(b"bpfsmith gen v1\0");
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(index);
        Rng(rng)
    }

    /// A number in `0..n` (`n` > 0; 0 when `n` is 0). The modulo's bias is irrelevant here
    /// and keeps the mapping from stream to program simple and fixed.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.0.next_u64() % n
        }
    }

    /// A number in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo.wrapping_add(self.below(hi.wrapping_sub(lo) as u64 + 1) as i64)
    }

    /// True `num` times in `den`.
    pub(crate) fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// 64 random bits.
    pub(crate) fn bits(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// An immediate that exercises edges as often as the middle: small numbers, the extremes
    /// of each width, powers of two, and arbitrary 32-bit values.
    pub(crate) fn imm32(&mut self) -> i32 {
        match self.below(6) {
            0 => self.range(-8, 8) as i32,
            1 => self.pick(&[
                0,
                1,
                -1,
                i32::MIN,
                i32::MAX,
                0x7f,
                0x80,
                0xff,
                0xffff,
                -0x8000,
                0x7fff_fffe,
            ]),
            2 => 1i32.wrapping_shl(self.below(32) as u32),
            3 => self.range(0, 255) as i32,
            _ => self.bits() as i32,
        }
    }

    /// A 64-bit constant for `ld_imm64`.
    pub(crate) fn imm64(&mut self) -> i64 {
        match self.below(4) {
            0 => self.pick(&[
                i64::MIN,
                i64::MAX,
                -1,
                0x1_0000_0000,
                0xffff_ffff,
                0x8000_0000,
                0x0123_4567_89ab_cdef,
            ]),
            1 => 1i64.wrapping_shl(self.below(64) as u32),
            _ => self.bits() as i64,
        }
    }
}
