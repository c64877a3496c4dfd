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
    // The release builds there are: the checkout's (`cargo build --release`) and the Debian
    // package's (packaging/deb.sh, target/deb), which is the one CI builds (.ci/run) and ships.
    let target = test_build.parent().unwrap().parent().unwrap();
    let packaged = target.join("deb/release/redoubt");
    if !packaged.exists() && std::env::var("CI").as_deref() == Ok("true") {
        panic!("{} missing: .ci/run builds it (packaging/deb.sh) before the tests", packaged.display());
    }
    let builds: Vec<_> = [target.join("release/redoubt"), packaged].into_iter().filter(|b| b.exists()).collect();
    if builds.is_empty() {
        eprintln!("SKIPPED: no release build in {} (cargo build --release)", target.display());
        return;
    }
    for binary in builds {
        let bytes = std::fs::read(&binary).unwrap();
        for m in MARKERS {
            assert!(!contains(&bytes, m), "{} contains the test hook marker {m}", binary.display());
        }
    }
}
