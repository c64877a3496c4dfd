//! The test-only hooks never ship: the release binary (built by .ci/run without the
//! `test-hooks` feature) must not contain them, while the test build must (so this test
//! can fail).

const MARKERS: [&str; 3] = ["redoubt-test-hook-probe", "REDOUBT_TEST_PROBES", "test-deny-landlock"];

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn release_binary_has_no_test_hooks() {
    let test_build = std::path::Path::new(env!("CARGO_BIN_EXE_redoubt"));
    let bytes = std::fs::read(test_build).unwrap();
    if cfg!(feature = "test-hooks") {
        for m in MARKERS {
            assert!(contains(&bytes, m), "the test build lacks {m}: the check below would prove nothing");
        }
    }
    let release = test_build.parent().unwrap().parent().unwrap().join("release/redoubt");
    if !release.exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{} missing: .ci/run builds it before the tests", release.display());
        }
        eprintln!("SKIPPED: no release build at {} (cargo build --release)", release.display());
        return;
    }
    // And the Debian package's build (packaging/deb.sh, target/deb), when there is one.
    let packaged = test_build.parent().unwrap().parent().unwrap().join("deb/release/redoubt");
    for binary in std::iter::once(release).chain(packaged.exists().then_some(packaged)) {
        let bytes = std::fs::read(&binary).unwrap();
        for m in MARKERS {
            assert!(!contains(&bytes, m), "{} contains the test hook marker {m}", binary.display());
        }
    }
}
