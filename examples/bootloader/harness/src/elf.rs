//! Just enough of ELF32 (little-endian) to turn the linked binaries into flash images and to
//! read their sizes and symbols, without binutils on the host.

use std::collections::BTreeMap;

/// A parsed ELF file.
pub struct Elf {
    bytes: Vec<u8>,
    /// Loadable segments: (load address, file offset, bytes in the file).
    segments: Vec<(u32, usize, usize)>,
    /// Section name -> (address, size, whether it occupies file bytes).
    pub sections: BTreeMap<String, (u32, u32, bool)>,
    /// Symbol name -> (address, size).
    pub symbols: BTreeMap<String, (u32, u32)>,
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
    b.get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .map(u16::from_le_bytes)
        .ok_or_else(|| format!("ELF truncated at {at:#x}"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| format!("ELF truncated at {at:#x}"))
}

fn c_str(b: &[u8], at: usize) -> String {
    let tail = b.get(at..).unwrap_or_default();
    let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
    String::from_utf8_lossy(tail.get(..end).unwrap_or_default()).into_owned()
}

impl Elf {
    /// Parses `bytes`.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 1, 1][..]) {
            return Err("not a little-endian ELF32 file".into());
        }
        let phoff = u32_at(&bytes, 0x1c)? as usize;
        let shoff = u32_at(&bytes, 0x20)? as usize;
        let phentsize = usize::from(u16_at(&bytes, 0x2a)?);
        let phnum = usize::from(u16_at(&bytes, 0x2c)?);
        let shentsize = usize::from(u16_at(&bytes, 0x2e)?);
        let shnum = usize::from(u16_at(&bytes, 0x30)?);
        let shstrndx = usize::from(u16_at(&bytes, 0x32)?);
        let mut segments = Vec::new();
        for i in 0..phnum {
            let p = phoff + i * phentsize;
            let (kind, offset, paddr, filesz) = (
                u32_at(&bytes, p)?,
                u32_at(&bytes, p + 4)?,
                u32_at(&bytes, p + 12)?,
                u32_at(&bytes, p + 16)?,
            );
            if kind == 1 && filesz > 0 {
                segments.push((paddr, offset as usize, filesz as usize));
            }
        }
        let sh = |i: usize, field: usize| u32_at(&bytes, shoff + i * shentsize + field);
        let names_at = sh(shstrndx, 16)? as usize;
        let mut sections = BTreeMap::new();
        let mut symtab = None;
        for i in 0..shnum {
            let name = c_str(&bytes, names_at + sh(i, 0)? as usize);
            let kind = sh(i, 4)?;
            if kind == 2 {
                symtab = Some(i);
            }
            sections.insert(name, (sh(i, 12)?, sh(i, 20)?, kind != 8));
        }
        let mut symbols = BTreeMap::new();
        if let Some(s) = symtab {
            let (off, size, link) = (
                sh(s, 16)? as usize,
                sh(s, 20)? as usize,
                sh(s, 24)? as usize,
            );
            let strings = sh(link, 16)? as usize;
            for e in (off..off + size).step_by(16) {
                let name = c_str(&bytes, strings + u32_at(&bytes, e)? as usize);
                if !name.is_empty() {
                    symbols.insert(name, (u32_at(&bytes, e + 4)?, u32_at(&bytes, e + 8)?));
                }
            }
        }
        Ok(Self {
            bytes,
            segments,
            sections,
            symbols,
        })
    }

    /// Reads and parses the file at `path`.
    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The flat image of everything loaded at or above `origin` (what a programmer writes to
    /// flash from `origin` on).
    pub fn image(&self, origin: u32) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        for &(addr, offset, len) in &self.segments {
            let at = addr
                .checked_sub(origin)
                .ok_or_else(|| format!("segment at {addr:#x} is below the origin {origin:#x}"))?
                as usize;
            if out.len() < at + len {
                out.resize(at + len, 0xFF);
            }
            let src = self
                .bytes
                .get(offset..offset + len)
                .ok_or("segment outside the file")?;
            out.get_mut(at..at + len)
                .ok_or("segment placement")?
                .copy_from_slice(src);
        }
        Ok(out)
    }

    /// The code range `[start, end)` of the first symbol whose (mangled) name contains `part`,
    /// or is exactly `part` when it starts with `=`.
    pub fn code_range(&self, part: &str) -> Option<(u32, u32)> {
        let matches = |s: &str| match part.strip_prefix('=') {
            Some(exact) => s == exact,
            None => s.contains(part),
        };
        self.symbols
            .iter()
            .find(|(s, _)| matches(s))
            .map(|(_, &(addr, size))| (addr & !1, (addr & !1) + size.max(2)))
    }

    fn section_size(&self, name: &str) -> u32 {
        self.sections.get(name).map_or(0, |s| s.1)
    }

    /// Flash the binary occupies: vector table, code, read-only data and `.data`'s initial values.
    pub fn flash_bytes(&self) -> u32 {
        [".vector_table", ".text", ".rodata", ".data"]
            .iter()
            .map(|s| self.section_size(s))
            .sum()
    }

    /// Static RAM: `.data`, `.bss` and `.uninit`.
    pub fn ram_bytes(&self) -> u32 {
        [".data", ".bss", ".uninit"]
            .iter()
            .map(|s| self.section_size(s))
            .sum()
    }
}
