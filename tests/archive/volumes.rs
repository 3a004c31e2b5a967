//! Media sets through the command line: `serialize --volume-size --parity` cuts the archive
//! into volumes; deserialize, verify, join and repair read them in any order, rebuilding what
//! is lost or damaged within the parity, and refuse (naming them) what is beyond it or of
//! another set.

use std::path::{Path, PathBuf};

use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{Run, ferry, write_file};

const MIB: u64 = 1 << 20;

struct Case {
    low: Registry,
    high: Registry,
    home: TestHome,
    config: String,
    index: String,
}

impl Case {
    /// A gather of one image of about 6 MiB on the low registry.
    fn new() -> Case {
        let (low, high) = (Registry::start(), Registry::start());
        images::big_image(&low.pusher(), "apps/big", "v1", &[3 * MIB, 2 * MIB, MIB + 12_345], 11);
        let home = TestHome::new();
        let config = ferry_tests::config_for(&[&low, &high]);
        let r = low.addr();
        let index = format!("{r}/low/mirror:w49");
        ferry(&home, &config, &["mirror", "gather", &write_file(&home, "s.list", &format!("{r}/apps/big:v1\n")), &index]).expect_code(0);
        Case { low, high, home, config, index }
    }

    fn run(&self, args: &[&str]) -> Run {
        ferry(&self.home, &self.config, args)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// Serializes into a set `DIR/w49.tar.*`: its data and parity volumes.
    fn set(&self, dir: &str, parity: u32) -> (Vec<PathBuf>, Vec<PathBuf>) {
        std::fs::create_dir_all(self.path(dir)).unwrap();
        let base = self.path(dir).join("w49.tar");
        let run = self.run(&["mirror", "serialize", "--volume-size", "1MiB", "--parity", &parity.to_string(), &self.index, s(&base)]);
        run.expect_code(0);
        assert!(run.stdout.contains(", in volumes w49.tar.001 to w49.tar.007"), "{}", run.stdout);
        let volumes = |prefix: &str| {
            let mut v: Vec<PathBuf> = std::fs::read_dir(self.path(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
                .collect();
            v.sort();
            v
        };
        let (data, parity) = (volumes("w49.tar.0"), volumes("w49.tar.p"));
        for v in data.iter().chain(&parity) {
            assert!(std::fs::metadata(v).unwrap().len() <= MIB, "{} is within the volume size", v.display());
        }
        (data, parity)
    }

    /// The digest the high side tagged `tag` with, if any.
    fn tagged(&self, tag: &str) -> Option<String> {
        let p = self.high.pusher();
        p.has_manifest("in/w49", tag).then(|| ferry_tests::sha256(&p.manifest("in/w49", tag).unwrap().1))
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_set_joins_to_the_plain_archive_byte_for_byte_and_loads_in_any_order() {
    let c = Case::new();
    let (data, parity) = c.set("set", 2);
    assert_eq!((data.len(), parity.len()), (7, 2));
    let plain = c.path("plain.tar");
    c.run(&["mirror", "serialize", &c.index, s(&plain)]).expect_code(0);
    let joined = c.path("joined.tar");
    let run = c.run(&["mirror", "join", s(&data[3]), "-o", s(&joined)]);
    run.expect_code(0);
    assert_eq!(std::fs::read(&joined).unwrap(), std::fs::read(&plain).unwrap(), "the joined data volumes are the plain archive");
    // The one-line shell equivalent in docs/volumes.md gives the same bytes.
    let line = "for v in w49.tar.[0-9]*; do n=$(od -An -tu8 -j32 -N8 \"$v\"); tail -c +513 \"$v\" | head -c $((n)); done > ../shell.tar";
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/volumes.md")).unwrap();
    assert!(doc.contains(&line.replace("../shell.tar", "w49.tar")), "the documented line is the one tested");
    let shell = std::process::Command::new("bash").arg("-c").arg(line).current_dir(c.path("set")).output().unwrap();
    assert!(shell.status.success(), "{}", String::from_utf8_lossy(&shell.stderr));
    assert_eq!(std::fs::read(c.path("shell.tar")).unwrap(), std::fs::read(&plain).unwrap());
    let again = c.run(&["mirror", "join", s(&data[0]), "-o", s(&joined)]);
    again.expect_code(2);
    assert!(again.stderr.contains("pass --force"), "{}", again.stderr);

    // Shuffled, parity first: the same root is tagged.
    let mut shuffled: Vec<String> = parity.iter().chain(data.iter().rev()).map(|p| s(p).to_owned()).collect();
    shuffled.swap(2, 5);
    let dest = format!("{}/in/w49:shuffled", c.high.addr());
    let args: Vec<&str> = ["mirror", "deserialize"].into_iter().chain(shuffled.iter().map(String::as_str)).chain([dest.as_str()]).collect();
    c.run(&args).expect_code(0);
    c.run(&["mirror", "deserialize", s(&plain), &format!("{}/in/w49:plain", c.high.addr())]).expect_code(0);
    assert_eq!(c.tagged("shuffled"), c.tagged("plain"));
    assert!(c.tagged("plain").is_some());
}

#[test]
fn lost_and_damaged_volumes_within_the_parity_are_rebuilt_and_beyond_it_named() {
    let c = Case::new();
    let (data, parity) = c.set("set", 2);
    c.run(&["mirror", "deserialize", s(&c.path("set")), &format!("{}/in/w49:whole", c.high.addr())]).expect_code(0);
    let whole = c.tagged("whole").unwrap();

    // One data volume lost and bytes damaged inside another: loaded from the directory.
    std::fs::remove_file(&data[1]).unwrap();
    let mut bytes = std::fs::read(&data[4]).unwrap();
    for b in &mut bytes[20_000..20_100] {
        *b ^= 0x5a;
    }
    std::fs::write(&data[4], bytes).unwrap();
    let verify = c.run(&["mirror", "verify", s(&data[0])]);
    verify.expect_code(1);
    assert!(verify.stdout.contains(&format!("volume {} (data 2/7): missing", s(&data[1]))), "{}", verify.stdout);
    assert!(verify.stdout.contains(&format!("volume {} (data 5/7): damaged: 1 damaged stripes", s(&data[4]))), "{}", verify.stdout);
    assert!(verify.stdout.contains("the set can be rebuilt"), "{}", verify.stdout);
    assert!(verify.stderr.contains(&format!("volume {} is missing", s(&data[1]))), "{}", verify.stderr);
    c.run(&["mirror", "deserialize", s(&c.path("set")), &format!("{}/in/w49:rebuilt", c.high.addr())]).expect_code(0);
    assert_eq!(c.tagged("rebuilt").as_ref(), Some(&whole));

    // repair writes both back as they were written.
    let fixed = c.path("fixed");
    std::fs::create_dir(&fixed).unwrap();
    let repair = c.run(&["mirror", "repair", s(&c.path("set")), "-o", s(&fixed)]);
    repair.expect_code(0);
    assert!(repair.stdout.contains("Rebuilt ") && repair.stdout.contains("w49.tar.002") && repair.stdout.contains("w49.tar.005"));
    std::fs::copy(fixed.join("w49.tar.002"), &data[1]).unwrap();
    std::fs::copy(fixed.join("w49.tar.005"), &data[4]).unwrap();
    let verify = c.run(&["mirror", "verify", s(&c.path("set"))]);
    verify.expect_code(0);

    // Three lost: refused before anything is written, naming them.
    for v in [&data[0], &data[6], &parity[1]] {
        std::fs::remove_file(v).unwrap();
    }
    let refused = c.run(&["mirror", "deserialize", s(&c.path("set")), &format!("{}/in/w49:three", c.high.addr())]);
    refused.expect_code(2);
    for v in [&data[0], &data[6], &parity[1]] {
        assert!(refused.stderr.contains(s(v)), "{}", refused.stderr);
    }
    assert!(refused.stderr.contains("2 parity volumes rebuild at most 2: bring back 1 of them"), "{}", refused.stderr);
    assert!(c.tagged("three").is_none());
    let verify = c.run(&["mirror", "verify", "-o", "json", s(&c.path("set"))]);
    verify.expect_code(1);
    let doc: serde_json::Value = serde_json::from_str(&verify.stdout).unwrap();
    assert_eq!(doc["rebuildable"], false);
    assert_eq!(doc["volumes"].as_array().unwrap().iter().filter(|v| v["condition"] == "missing").count(), 3);
}

#[test]
fn a_volume_of_another_set_is_refused_by_name() {
    let c = Case::new();
    let (data, _) = c.set("a", 1);
    let (other, _) = c.set("b", 1);
    let mut mixed: Vec<String> = data.iter().map(|p| s(p).to_owned()).collect();
    mixed[2] = s(&other[2]).to_owned();
    let dest = format!("{}/in/w49:mixed", c.high.addr());
    let args: Vec<&str> = ["mirror", "deserialize"].into_iter().chain(mixed.iter().map(String::as_str)).chain([dest.as_str()]).collect();
    let run = c.run(&args);
    run.expect_code(2);
    assert!(run.stderr.contains("not of this set") && run.stderr.contains(s(&other[2])), "{}", run.stderr);
    assert!(c.tagged("mixed").is_none());
}

#[test]
fn sets_are_refused_where_they_cannot_go_and_an_old_set_is_replaced() {
    let c = Case::new();
    let stdout = c.run(&["mirror", "serialize", "--volume-size", "1MiB", &c.index, "-"]);
    assert_eq!(stdout.code, 2, "{}", stdout.stderr);
    assert!(stdout.stderr.contains("--volume-size writes a set of files"), "{}", stdout.stderr);
    let small = c.run(&["mirror", "serialize", "--volume-size", "1000", &c.index, s(&c.path("x.tar"))]);
    small.expect_code(2);
    assert!(small.stderr.contains("at least 1048576 bytes"), "{}", small.stderr);
    let parity = c.run(&["mirror", "serialize", "--parity", "2", &c.index, s(&c.path("x.tar"))]);
    parity.expect_code(2);
    assert!(parity.stderr.contains("--volume-size"), "{}", parity.stderr);

    // A second set at the same DEST with bigger volumes: the first set's extra volumes go,
    // so the directory holds one set.
    c.set("d", 2);
    let base = c.path("d").join("w49.tar");
    c.run(&["mirror", "serialize", "--volume-size", "4MiB", &c.index, s(&base)]).expect_code(0);
    let mut names: Vec<String> =
        std::fs::read_dir(c.path("d")).unwrap().map(|e| e.unwrap().file_name().to_str().unwrap().to_owned()).collect();
    names.sort();
    assert_eq!(names, ["w49.tar.001", "w49.tar.002"]);
    c.run(&["mirror", "verify", s(&c.path("d"))]).expect_code(0);
    // A file of a volume's name that is not one is never removed without --force.
    std::fs::write(c.path("d").join("w49.tar.003"), b"notes").unwrap();
    let kept = c.run(&["mirror", "serialize", "--volume-size", "4MiB", &c.index, s(&base)]);
    kept.expect_code(2);
    assert!(kept.stderr.contains("w49.tar.003 exists and is not an archive"), "{}", kept.stderr);
}

#[test]
fn batch_serialize_writes_sets_and_batch_deserialize_loads_them() {
    let c = Case::new();
    let r = c.low.addr();
    let list = write_file(&c.home, "batch.csv", &format!("one,{r}/apps/big:v1\ntwo,{}\n", c.index));
    let sync = c.path("sync");
    let run = c.run(&["mirror", "batch-serialize", "--volume-size", "2MiB", "--parity", "1", &list, s(&sync)]);
    run.expect_code(0);
    let mut names: Vec<String> = std::fs::read_dir(&sync).unwrap().map(|e| e.unwrap().file_name().to_str().unwrap().to_owned()).collect();
    names.sort();
    assert!(names.contains(&"000001-one.tar.001".to_owned()) && names.contains(&"000001-one.tar.p01".to_owned()), "{names:?}");
    assert!(names.contains(&"000002-two.tar.001".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");
    let tracker = std::fs::read_to_string(sync.join("record-keeping.csv")).unwrap();
    assert!(tracker.contains("000001-one.tar,") && tracker.contains("000002-two.tar,"), "{tracker}");

    // A lost volume of the first set: rebuilt; both sets load, each tagged by its name.
    std::fs::remove_file(sync.join("000001-one.tar.002")).unwrap();
    let dest = format!("{}/in/w49", c.high.addr());
    let loaded = c.run(&["mirror", "batch-deserialize", s(&sync), &dest]);
    loaded.expect_code(0);
    assert!(
        loaded.stdout.contains("Loaded 000001-one.tar as ") && loaded.stdout.contains("Loaded 000002-two.tar as "),
        "{}",
        loaded.stdout
    );
    assert!(!loaded.stderr.contains("skipped"), "no volume is taken for a stray file: {}", loaded.stderr);
    assert!(c.tagged("one").is_some() && c.tagged("two").is_some());
    let synced = std::fs::read_to_string(sync.join("successful-syncs.csv")).unwrap();
    assert!(synced.contains("000001-one.tar,") && synced.contains("000002-two.tar,"), "{synced}");
    // Loaded once: a second run has nothing to do.
    let again = c.run(&["mirror", "batch-deserialize", s(&sync), &dest]);
    again.expect_code(0);
    assert!(!again.stdout.contains("Loaded "), "{}", again.stdout);
}

#[test]
fn compressed_and_signed_deliveries_go_into_sets_too() {
    let c = Case::new();
    c.run(&["plugin", "keygen", "low"]).expect_code(0);
    std::fs::create_dir(c.path("z")).unwrap();
    let base = c.path("z").join("w49.tar.zst");
    let key = c.path("low.key");
    let run = c.run(&[
        "mirror",
        "serialize",
        "--compression",
        "zstd",
        "--sign",
        s(&key),
        "--volume-size",
        "1MiB",
        "--parity",
        "1",
        &c.index,
        s(&base),
    ]);
    run.expect_code(0);
    let verify = c.run(&["mirror", "verify", "--key", s(&c.path("low.pub")), s(&c.path("z"))]);
    verify.expect_code(0);
    assert!(verify.stdout.contains("zstd tar") && verify.stdout.contains("a good signature by key"), "{}", verify.stdout);
    let policy = format!("{}deliveries:\n  requireSigned: true\n  trustedKeys: [low.pub]\n", c.config);
    std::fs::remove_file(c.path("z").join("w49.tar.zst.002")).unwrap();
    let loaded = ferry(&c.home, &policy, &["mirror", "deserialize", s(&c.path("z")), &format!("{}/in/w49:signed", c.high.addr())]);
    loaded.expect_code(0);
    assert!(c.tagged("signed").is_some());
}

#[test]
fn a_serialize_that_died_resumes_from_its_first_unfinished_volume() {
    use ferry_testkit::{Fault, FaultProxy, Rule};
    let reg = Registry::start();
    let img = images::big_image(&reg.pusher(), "low/big", "v1", &[3 * MIB, MIB, 2 * MIB], 75);
    let home = TestHome::new();
    // The last layer hangs: serialize writes the others, then waits, and is stopped there.
    let last = img.layers[2].digest.to_string();
    let proxy = FaultProxy::start(reg.addr(), vec![Rule::always("GET", &format!("/blobs/{last}"), Fault::Delay(60_000))]);
    let image = format!("{}/low/big:v1", proxy.addr());
    let config = ferry_tests::config_for_addrs(&[proxy.addr()]);
    let cfg = home.path().join("proxy.yaml");
    std::fs::write(&cfg, &config).unwrap();
    std::fs::create_dir(home.path().join("set")).unwrap();
    let base = home.path().join("set").join("big.tar");
    let child = std::process::Command::new(ferry_tests::binary())
        .args(["--config", s(&cfg), "mirror", "serialize", "--volume-size", "1MiB", "--parity", "1", &image, s(&base)])
        .current_dir(home.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(home.env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Four whole volumes (the 3 MiB layer and most of the 1 MiB one) carry their provisional
    // headers.
    let fourth = PathBuf::from(format!("{}.004", base.display()));
    for _ in 0..600 {
        if ferry_volumes::is_volume(&fourth) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(ferry_volumes::is_volume(&fourth), "four volumes written before the stall");
    let stopped = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    let died = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&died.stderr);
    assert_eq!(died.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    // The last layer never came: what it would have filled was never written.
    assert!(!ferry_volumes::is_volume(&PathBuf::from(format!("{}.005", base.display()))), "stopped at the stalled layer");
    drop(proxy);

    // The whole volumes, as if taken off (burned) as each was done.
    let early = home.path().join("early");
    std::fs::create_dir(&early).unwrap();
    for i in 1..=4 {
        let name = format!("big.tar.00{i}");
        std::fs::copy(home.path().join("set").join(&name), early.join(&name)).unwrap();
    }
    let healed = FaultProxy::start(reg.addr(), vec![]);
    let config = ferry_tests::config_for_addrs(&[healed.addr()]);
    let image = format!("{}/low/big:v1", healed.addr());
    let plain = home.path().join("plain.tar");
    ferry(&home, &config, &["mirror", "serialize", &image, s(&plain)]).expect_code(0);

    // A continuation of the volumes taken off: what their whole volumes carry is left out,
    // and the early volumes with the continuation load whole.
    let rest = home.path().join("rest.tar");
    let cont = ferry(&home, &config, &["mirror", "serialize", &image, s(&rest), "--existing-from-archive", s(&early)]);
    cont.expect_code(0);
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    assert!(size(&rest) + 3 * MIB <= size(&plain), "the 3 MiB layer is left out: {}", cont.stdout);
    assert!(cont.stdout.contains("whole blobs to leave out"), "{}", cont.stdout);
    let mut loaded = Vec::new();
    for (tag, sources) in [("parts", vec![s(&early), s(&rest)]), ("plain", vec![s(&plain)])] {
        let dest = format!("{}/in/big:{tag}", healed.addr());
        let args: Vec<&str> = ["mirror", "deserialize"].into_iter().chain(sources).chain([dest.as_str()]).collect();
        ferry(&home, &config, &args).expect_code(0);
        loaded.push(ferry_tests::sha256(&reg.pusher().manifest("in/big", tag).unwrap().1));
    }
    assert_eq!(loaded[0], loaded[1], "the early volumes and the continuation load as the plain archive does");
    // The early volumes alone are a partial archive: what they hold lands, nothing is tagged.
    let dest = format!("{}/in/big:early", healed.addr());
    let partial = ferry(&home, &config, &["mirror", "deserialize", s(&early), &dest]);
    assert_ne!(partial.code, 0, "{}", partial.stderr);
    assert!(!reg.pusher().has_manifest("in/big", "early"));
    // Its own DEST as the archive to leave out is refused: this run would write over it.
    let own =
        ferry(&home, &config, &["mirror", "serialize", "--volume-size", "1MiB", &image, s(&base), "--existing-from-archive", s(&base)]);
    own.expect_code(2);
    assert!(own.stderr.contains("that is DEST"), "{}", own.stderr);

    // The same command once the registry answers: the whole volumes are kept.
    let args = ["mirror", "serialize", "--volume-size", "1MiB", "--parity", "1", &image, s(&base)];
    let resumed = ferry(&home, &config, &args);
    resumed.expect_code(0);
    assert!(resumed.stdout.contains(": 4 whole volumes of an interrupted run are kept"), "{}", resumed.stdout);
    let joined = home.path().join("joined.tar");
    ferry(&home, &config, &["mirror", "join", s(&home.path().join("set")), "-o", s(&joined)]).expect_code(0);
    assert_eq!(std::fs::read(&joined).unwrap(), std::fs::read(&plain).unwrap());
    // A volume burned early (its provisional header) reads with the finished set.
    std::fs::copy(early.join("big.tar.002"), home.path().join("set").join("big.tar.002")).unwrap();
    ferry(&home, &config, &["mirror", "join", s(&home.path().join("set")), "-o", s(&joined), "--force"]).expect_code(0);
    assert_eq!(std::fs::read(&joined).unwrap(), std::fs::read(&plain).unwrap());
}

#[test]
fn the_checkpoint_ledger_names_the_volume_of_each_record() {
    let c = Case::new();
    std::fs::create_dir(c.path("l")).unwrap();
    let base = c.path("l").join("w49.tar");
    let ledger = c.path("ledger.jsonl");
    c.run(&["mirror", "serialize", "--checkpoint", s(&ledger), "--volume-size", "1MiB", &c.index, s(&base)]).expect_code(0);
    let capacity = ferry_volumes::header::payload_capacity(MIB, 64 << 10);
    let text = std::fs::read_to_string(&ledger).unwrap();
    let mut volumes = Vec::new();
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let offset: u64 = record["annotations"]["vnd.act3-ace.data.offset"].as_str().unwrap().parse().unwrap();
        let volume: u64 = record["annotations"]["vnd.ferry.volume"].as_str().unwrap().parse().unwrap();
        assert_eq!(volume, (offset - 1) / capacity + 1, "{line}");
        volumes.push(volume);
    }
    assert!(volumes.len() >= 5 && volumes.windows(2).all(|w| w[0] <= w[1]) && volumes.last() == Some(&7), "{volumes:?}");
}

/// A volume's header fields a test needs: kind (0 data), index, payload length.
fn header_of(tape: &[u8]) -> (u8, u32, usize) {
    assert_eq!(&tape[..8], b"FERRYVS\0", "a tape starts with a volume header");
    let index = u32::from_le_bytes(tape[12..16].try_into().unwrap());
    let payload = u64::from_le_bytes(tape[32..40].try_into().unwrap()) as usize;
    (tape[10], index, payload)
}

#[test]
fn a_set_goes_onto_tapes_one_volume_each_and_comes_back_with_a_tape_lost() {
    use ferry_testkit::tape::TapeDrive;
    let c = Case::new();
    let plain = c.path("plain.tar");
    c.run(&["mirror", "serialize", &c.index, s(&plain)]).expect_code(0);
    let plain = std::fs::read(&plain).unwrap();

    // Without a command and off a terminal, nobody could load the second tape: refused first.
    let blank = || -> ferry_testkit::tape::Library { Box::new(|_| Some(Vec::new())) };
    std::fs::create_dir_all(c.path("w")).unwrap();
    let drive = TapeDrive::new(&c.path("w"), Vec::new(), blank());
    let device = s(drive.device()).to_owned();
    let refused = c.run(&["mirror", "serialize", "--volume-size", "2MiB", &c.index, &device]);
    refused.expect_code(2);
    assert!(refused.stderr.contains("needs the next tape loaded: pass --next-volume CMD"), "{}", refused.stderr);

    // A volume bigger than the staging directory's free space is said before anything is
    // written, not when the disk fills.
    let next = drive.next_volume();
    let big = c.run(&["mirror", "serialize", "--volume-size", "900P", "--next-volume", &next, &c.index, &device]);
    assert_eq!(big.code, 1, "{}", big.stderr);
    assert!(big.stderr.contains("bytes free and volume 1 needs up to 900000000000000000"), "{}", big.stderr);
    assert!(big.stderr.contains("--staging-dir"), "{}", big.stderr);
    assert!(drive.asked().is_empty());

    // Written: 2 MiB volumes with a parity volume, one per tape, in 64 KiB blocks.
    let args = ["mirror", "serialize", "--volume-size", "2MiB", "--parity", "1", "-b", "64KiB", "--next-volume", &next, &c.index, &device];
    let run = c.run(&args);
    run.expect_code(0);
    assert!(run.stdout.contains("on 5 tapes: 4 data and 1 parity"), "{}", run.stdout);
    assert!(run.stdout.contains("Staging the media set in"), "the space it needs is stated first: {}", run.stdout);
    assert_eq!(drive.asked(), ["2", "3", "4", "p1"]);
    let tapes = drive.tapes();
    assert_eq!(tapes.len(), 5);
    let mut joined = Vec::new();
    for (i, (_, tape)) in tapes.iter().enumerate() {
        assert_eq!(tape.len() % (64 << 10), 0, "tape {i} is written in whole blocks");
        assert!(tape.len() as u64 <= 2 * MIB, "tape {i} holds one volume within the size");
        let (kind, index, payload) = header_of(tape);
        if i < 4 {
            assert_eq!((kind, index), (0, i as u32 + 1), "data volumes in order");
            joined.extend_from_slice(&tape[512..512 + payload]);
        } else {
            assert_eq!((kind, index), (1, 1), "the parity volume last");
        }
    }
    assert!(joined == plain, "the data volumes on the tapes join to the plain archive");
    drop(drive);

    // Read back off a terminal without a command: nobody can load tape 2, said at once.
    std::fs::create_dir_all(c.path("n")).unwrap();
    let drive = TapeDrive::new(&c.path("n"), tapes[0].1.clone(), Box::new(|_| None));
    let alone = c.run(&["mirror", "deserialize", s(drive.device()), &format!("{}/in/w49:alone", c.high.addr())]);
    alone.expect_code(2);
    assert!(alone.stderr.contains("the set goes on with volume 2") && alone.stderr.contains("--next-volume CMD"), "{}", alone.stderr);
    assert!(c.tagged("alone").is_none());
    drop(drive);

    // Read back with tape 3 lost: the autoloader is asked for the parity tape, then tape 4.
    let by_volume: std::collections::HashMap<String, Vec<u8>> =
        tapes.into_iter().map(|(label, bytes)| (if label == "first" { "1".to_owned() } else { label }, bytes)).collect();
    std::fs::create_dir_all(c.path("r")).unwrap();
    let library = by_volume.clone();
    let drive =
        TapeDrive::new(&c.path("r"), by_volume["1"].clone(), Box::new(move |v| if v == "3" { None } else { library.get(v).cloned() }));
    let device = s(drive.device()).to_owned();
    let dest = format!("{}/in/w49:tapes", c.high.addr());
    let run = c.run(&["mirror", "deserialize", "--next-volume", &drive.next_volume(), &device, &dest]);
    run.expect_code(0);
    assert_eq!(drive.asked(), ["2", "3", "p1", "4"]);
    assert!(run.stdout.contains("Volume 3 cannot be had"), "{}", run.stdout);
    c.run(&["mirror", "deserialize", s(&c.path("plain.tar")), &format!("{}/in/w49:plain", c.high.addr())]).expect_code(0);
    assert_eq!(c.tagged("tapes"), c.tagged("plain"));
    assert!(c.tagged("tapes").is_some());
    drop(drive);

    // A set on one tape is read without anyone to change tapes.
    std::fs::create_dir_all(c.path("o")).unwrap();
    let drive = TapeDrive::new(&c.path("o"), Vec::new(), blank());
    let next = drive.next_volume();
    c.run(&["mirror", "serialize", "--volume-size", "16MiB", "--next-volume", &next, &c.index, s(drive.device())]).expect_code(0);
    assert!(drive.asked().is_empty());
    let one = drive.tapes().remove(0).1;
    drop(drive);
    std::fs::create_dir_all(c.path("o2")).unwrap();
    let drive = TapeDrive::new(&c.path("o2"), one, Box::new(|_| None));
    c.run(&["mirror", "deserialize", s(drive.device()), &format!("{}/in/w49:onetape", c.high.addr())]).expect_code(0);
    assert_eq!(c.tagged("onetape"), c.tagged("plain"));
    drop(drive);

    // verify from the tapes; tape 1 loaded again by mistake is named and tape 2 asked for
    // again. No parity tape is needed: every data tape is whole.
    std::fs::create_dir_all(c.path("v")).unwrap();
    let library = by_volume.clone();
    let mut mistakes = 1;
    let drive = TapeDrive::new(
        &c.path("v"),
        by_volume["1"].clone(),
        Box::new(move |v| {
            if v == "2" && mistakes > 0 {
                mistakes -= 1;
                return library.get("1").cloned();
            }
            library.get(v).cloned()
        }),
    );
    let run = c.run(&["mirror", "verify", s(drive.device()), "--next-volume", &drive.next_volume()]);
    run.expect_code(0);
    assert!(run.stderr.contains("volume 1, already read; volume 2 is asked for again"), "{}", run.stderr);
    assert_eq!(drive.asked(), ["2", "2", "3", "4", "p1"], "verify reads every tape, parity included");
    drop(drive);

    // Bytes damaged in the first stripe of tape 2 and tape 4 lost: more than the one parity
    // volume rebuilds (tape 4 has a first stripe too), so
    // join names what is needed and writes nothing.
    let mut damaged = by_volume["2"].clone();
    for b in &mut damaged[1_000..1_050] {
        *b ^= 0x33;
    }
    std::fs::create_dir_all(c.path("j")).unwrap();
    let library = by_volume.clone();
    let drive = TapeDrive::new(
        &c.path("j"),
        by_volume["1"].clone(),
        Box::new(move |v| match v {
            "2" => Some(damaged.clone()),
            "4" => None,
            _ => library.get(v).cloned(),
        }),
    );
    let out = c.path("joined.tar");
    let run = c.run(&["mirror", "join", s(drive.device()), "-o", s(&out), "--next-volume", &drive.next_volume()]);
    run.expect_code(2);
    assert!(run.stderr.contains("volume 2, volume 4 of the set are missing or damaged"), "the volumes are named: {}", run.stderr);
    assert!(!out.exists());
}

/// Runs ferry on a terminal (`script` gives it one) and answers each "Load … then press
/// Enter" prompt with `answer(volume)`, which loads the drive and says what to type.
fn prompted(c: &Case, args: &[&str], mut answer: impl FnMut(&str) -> String) -> (i32, String) {
    use std::io::{Read as _, Write as _};
    let config = c.path("ferry-config.yaml");
    std::fs::write(&config, &c.config).unwrap();
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let command = format!("{} --config {} {}", ferry_tests::binary().display(), config.display(), quoted.join(" "));
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("HOME", c.home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut stdin, mut stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let mut text = String::new();
    let mut answered = 0;
    let mut buf = [0u8; 4096];
    loop {
        let n = stdout.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        let prompts: Vec<&str> = text.match_indices("then press Enter").map(|(i, _)| &text[..i]).collect();
        if prompts.len() > answered {
            let asked = prompts[answered].rsplit("Load ").next().unwrap().split(" of the set").next().unwrap().to_owned();
            answered += 1;
            let reply = answer(&asked);
            stdin.write_all(format!("{reply}\n").as_bytes()).unwrap();
        }
    }
    (child.wait().unwrap().code().unwrap_or(-1), text)
}

#[test]
fn an_operator_at_the_prompt_changes_tapes_and_a_stopped_run_leaves_no_staging_behind() {
    use ferry_testkit::tape::TapeDrive;
    let c = Case::new();
    let plain = c.path("plain.tar");
    c.run(&["mirror", "serialize", &c.index, s(&plain)]).expect_code(0);

    // A plain archive on a tape: written in whole blocks, read back as a stream.
    std::fs::create_dir_all(c.path("p")).unwrap();
    let drive = TapeDrive::new(&c.path("p"), Vec::new(), Box::new(|_| None));
    c.run(&["mirror", "serialize", "-b", "64KiB", &c.index, s(drive.device())]).expect_code(0);
    let tape = drive.tapes().remove(0).1;
    let plain_bytes = std::fs::read(&plain).unwrap();
    assert_eq!(tape.len() % (64 << 10), 0);
    assert!(tape[..plain_bytes.len()] == plain_bytes[..] && tape[plain_bytes.len()..].iter().all(|b| *b == 0));
    drop(drive);
    std::fs::create_dir_all(c.path("p2")).unwrap();
    let drive = TapeDrive::new(&c.path("p2"), tape, Box::new(|_| None));
    c.run(&["mirror", "deserialize", s(drive.device()), &format!("{}/in/w49:plaintape", c.high.addr())]).expect_code(0);
    c.run(&["mirror", "deserialize", s(&plain), &format!("{}/in/w49:plain", c.high.addr())]).expect_code(0);
    assert_eq!(c.tagged("plaintape"), c.tagged("plain"));
    drop(drive);

    // Written at the prompt: the operator loads each blank tape and presses Enter.
    std::fs::create_dir_all(c.path("w")).unwrap();
    let drive = std::sync::Arc::new(TapeDrive::new(&c.path("w"), Vec::new(), Box::new(|_| None)));
    let device = s(drive.device()).to_owned();
    let mut asked = Vec::new();
    let d = drive.clone();
    let (code, text) =
        prompted(&c, &["mirror", "serialize", "--volume-size", "2MiB", "--parity", "1", "-b", "64KiB", &c.index, &device], |v| {
            asked.push(v.to_owned());
            d.load(v, Vec::new());
            String::new()
        });
    assert_eq!(code, 0, "{text}");
    assert_eq!(asked, ["volume 2", "volume 3", "volume 4", "parity volume 1"], "{text}");
    let tapes: std::collections::HashMap<String, Vec<u8>> =
        drive.tapes().into_iter().map(|(label, bytes)| (if label == "first" { "volume 1".to_owned() } else { label }, bytes)).collect();

    // Read at the prompt, tape 2 not found: the operator types `lost`.
    std::fs::create_dir_all(c.path("r")).unwrap();
    let drive = std::sync::Arc::new(TapeDrive::new(&c.path("r"), tapes["volume 1"].clone(), Box::new(|_| None)));
    let mut asked = Vec::new();
    let d = drive.clone();
    let dest = format!("{}/in/w49:prompted", c.high.addr());
    let (code, text) = prompted(&c, &["mirror", "deserialize", s(drive.device()), &dest], |v| {
        asked.push(v.to_owned());
        if v == "volume 2" {
            return "lost".to_owned();
        }
        d.load(v, tapes[v].clone());
        String::new()
    });
    assert_eq!(code, 0, "{text}");
    assert_eq!(asked, ["volume 2", "parity volume 1", "volume 3", "volume 4"], "{text}");
    assert_eq!(c.tagged("prompted"), c.tagged("plain"));

    // Stopped while the autoloader works: the staging directory (a set's worth of space) is
    // left by the signal, and the next run removes it.
    let staging = c.path("staging");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::create_dir_all(c.path("k")).unwrap();
    let drive = TapeDrive::new(&c.path("k"), Vec::new(), Box::new(|_| Some(Vec::new())));
    let pid_file = c.path("k/cmd.pid");
    let stall = format!("echo $$ > '{}'; exec sleep 60", pid_file.display());
    let mut child = std::process::Command::new(ferry_tests::binary())
        .args(["--config", s(&c.path("ferry-config.yaml")), "--no-term"])
        .args(["mirror", "serialize", "--volume-size", "2MiB", "--parity", "1", "--staging-dir", s(&staging), "--next-volume", &stall])
        .args([c.index.as_str(), s(drive.device())])
        .env("HOME", c.home.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !pid_file.exists() {
        assert!(std::time::Instant::now() < deadline, "the autoloader command was never run");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let left: Vec<_> = std::fs::read_dir(&staging).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(left.len(), 1, "{left:?}");
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let cmd_pid = std::fs::read_to_string(&pid_file).unwrap();
    let _ = std::process::Command::new("kill").arg(cmd_pid.trim()).status();
    assert!(left[0].exists(), "a signal leaves the staging directory");
    // A staging directory of a live process is not touched.
    let live = staging.join(format!("ferry-set-{}-live", std::process::id()));
    std::fs::create_dir_all(&live).unwrap();
    drop(drive);
    std::fs::create_dir_all(c.path("k2")).unwrap();
    let drive = TapeDrive::new(&c.path("k2"), Vec::new(), Box::new(|_| Some(Vec::new())));
    let next = drive.next_volume();
    let device = s(drive.device()).to_owned();
    c.run(&["mirror", "serialize", "--volume-size", "2MiB", "--staging-dir", s(&staging), "--next-volume", &next, &c.index, &device])
        .expect_code(0);
    assert!(!left[0].exists(), "the next run removed what the stopped one left");
    assert!(live.exists());
    let remaining: Vec<_> = std::fs::read_dir(&staging).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(remaining.len(), 1, "{remaining:?}");

    // A set without parity is read one tape at a time: the autoloader sees the staging
    // directory hold nothing of the set when it is asked for the next tape.
    let tapes: std::collections::HashMap<String, Vec<u8>> =
        drive.tapes().into_iter().map(|(label, bytes)| (if label == "first" { "1".to_owned() } else { label }, bytes)).collect();
    assert_eq!(tapes.len(), 4);
    drop(drive);
    std::fs::create_dir_all(c.path("k3")).unwrap();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (h, staged_in) = (held.clone(), staging.clone());
    let library = tapes.clone();
    let drive = TapeDrive::new(
        &c.path("k3"),
        tapes["1"].clone(),
        Box::new(move |v| {
            // The files in the staging directories there (the run's, and the live one's).
            let dirs = std::fs::read_dir(&staged_in).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir());
            let files: usize = dirs.map(|d| std::fs::read_dir(d).unwrap().count()).sum();
            h.lock().unwrap().push(files);
            library.get(v).cloned()
        }),
    );
    let dest = format!("{}/in/w49:streamed", c.high.addr());
    let args = ["mirror", "deserialize", "--staging-dir", s(&staging), "--next-volume", &drive.next_volume(), s(drive.device()), &dest];
    let run = c.run(&args);
    run.expect_code(0);
    assert_eq!(drive.asked(), ["2", "3", "4"]);
    assert_eq!(*held.lock().unwrap(), [0, 0, 0], "no volume staged when the next is asked for");
    assert_eq!(c.tagged("streamed"), c.tagged("plain"));
}

#[test]
fn the_catalog_names_the_volume_each_blob_is_in() {
    let c = Case::new();
    let (data, _) = c.set("set", 1);
    let manifest: serde_json::Value = serde_json::from_slice(&c.low.pusher().manifest("apps/big", "v1").unwrap().1).unwrap();
    let capacity = {
        // Every data volume but the last is full: its payload length is the capacity.
        let v = std::fs::read(&data[0]).unwrap();
        u64::from_le_bytes(v[32..40].try_into().unwrap())
    };
    let layers = manifest["layers"].as_array().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for layer in layers {
        let digest = layer["digest"].as_str().unwrap();
        let run = c.run(&["catalog", "where", digest, "-o", "json"]);
        run.expect_code(0);
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let h = &doc["holdings"][0];
        assert_eq!(h["volumes"], 7, "{doc}");
        assert!(h["location"].as_str().unwrap().ends_with("w49.tar"), "{doc}");
        let (offset, first, last) = (h["offset"].as_u64().unwrap(), h["volume"].as_u64().unwrap(), h["last_volume"].as_u64().unwrap());
        let size = layer["size"].as_u64().unwrap();
        assert_eq!(first, offset / capacity + 1, "{doc}");
        assert_eq!(last, (offset + 512 + size - 1) / capacity + 1, "{doc}");
        // The volume named holds the entry's tar header where the catalog says.
        let volume = std::fs::read(&data[first as usize - 1]).unwrap();
        let at = 512 + (offset - (first - 1) * capacity) as usize;
        let name = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
        assert_eq!(&volume[at..at + name.len()], name.as_bytes(), "{doc}");
        seen.insert((first, last));
        let text = c.run(&["catalog", "where", digest]);
        let expected = if first == last { format!("volume {first} of 7") } else { format!("volumes {first} to {last} of 7") };
        assert!(text.stdout.contains(&expected), "{}", text.stdout);
    }
    assert!(seen.iter().any(|(f, l)| f != l), "a layer spans volumes: {seen:?}");
}
