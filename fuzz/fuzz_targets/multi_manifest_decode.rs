//! Multi-component manifest decoding: arbitrary bytes never panic, whatever decodes
//! re-encodes to exactly the input (one encoding per manifest), its structure rules hold, and
//! the dependency check is total over it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ota_core::manifest::Version;
use ota_core::multi::depends::check;
use ota_core::multi::manifest::{ComponentId, MAX_MULTI_MANIFEST_LEN, MultiManifest};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = MultiManifest::<4>::decode(data) {
        let mut buf = [0u8; MAX_MULTI_MANIFEST_LEN];
        let bytes = m.encode(&mut buf).expect("a decoded manifest re-encodes");
        assert_eq!(&bytes[..], data, "decode -> encode changed the bytes");
        assert!(!m.components.is_empty());
        for (i, c) in m.components.iter().enumerate() {
            for d in m.components.iter().skip(i + 1) {
                assert!(d.id != c.id && d.area != c.area, "duplicates passed decoding");
            }
            assert!(c.depends.iter().all(|d| d.component != c.id));
        }
        let installed: Vec<(ComponentId, Version)> =
            (0..=255u8).map(|i| (ComponentId(i), Version::new(1, u16::from(i), 0))).collect();
        let _ = check(&m, &installed);
    }
});
