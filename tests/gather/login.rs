//! `ferry login` / `logout`, and where credentials are read from: ferry's `registryAuthFile`,
//! Docker's `config.json`, `REGISTRY_AUTH_FILE`, podman's `auth.json`, in that order. Every
//! message about a refusal says whether credentials were found and where; no secret is ever
//! printed, even at `-v debug`.

use base64::Engine as _;
use ferry_testkit::{Registry, TestHome, images};
use ferry_tests::{config_for, ferry, ferry_env, ferry_input, write_file};
use serde_json::Value;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn gather_args<'a>(list: &'a str, dest: &'a str) -> [&'a str; 4] {
    ["mirror", "gather", list, dest]
}

#[test]
fn login_checks_the_password_stores_it_for_gather_and_logout_removes_it() {
    let reg = Registry::builder().basic_auth("tester", "pw-basic-77").start();
    let p = reg.pusher();
    images::single_image(&p, "low/app", "v1", 41);
    let r = reg.addr();
    let config = config_for(&[&reg]);
    let home = TestHome::new();
    let docker = home.docker_config_dir().join("config.json");
    let before = "{\"auths\":{\"other.example\":{\"auth\":\"dTpw\"}},\"psFormat\":\"table\"}";
    std::fs::write(&docker, before).unwrap();

    // A wrong password is refused by the registry, and config.json is left as it was.
    let run = ferry_input(&home, &config, &[], &["login", r, "-u", "tester", "--password-stdin"], "wrong-pw-31\n");
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!("{r}: /v2/: the registry refused the credentials from the command line (401 Unauthorized")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrong-pw-31"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&docker).unwrap(), before);

    // The right one is stored: mode 0600, the other entries and fields kept.
    let run = ferry_input(&home, &config, &[], &["login", r, "-u", "tester", "--password-stdin"], "pw-basic-77\n");
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("Login Succeeded: credentials for {r} stored in {}", docker.display())), "{}", run.stdout);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&docker).unwrap().permissions().mode() & 0o777, 0o600);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&docker).unwrap()).unwrap();
    assert_eq!(doc["auths"][r]["auth"], b64("tester:pw-basic-77"));
    assert_eq!((doc["auths"]["other.example"]["auth"].as_str(), doc["psFormat"].as_str()), (Some("dTpw"), Some("table")));

    // gather uses them; at -v debug every request is logged, where the credentials came from
    // too, and no secret.
    let list = write_file(&home, "sources.list", &format!("{r}/low/app:v1\n"));
    let run = ferry(&home, &config, &[&["-v", "debug"][..], &gather_args(&list, &format!("{r}/low/mirror:sync-1"))].concat());
    run.expect_code(0);
    assert!(run.stderr.contains(&format!("credentials for {r}: from {}", docker.display())), "{}", run.stderr);
    assert!(run.stderr.contains(&format!(" http://{r}/v2/low/app/manifests/v1 -> 200 OK")), "{}", run.stderr);
    assert!(run.stderr.contains(" -> 401 Unauthorized"), "{}", run.stderr);
    assert!(run.stderr.contains(" -> 201 Created"), "{}", run.stderr);
    for secret in ["pw-basic-77", &b64("tester:pw-basic-77"), "Basic ", "Authorization"] {
        assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret), "{secret} printed:\n{}", run.stderr);
    }

    // -p works too, with Docker's warning.
    let run = ferry_input(&home, &config, &[], &["login", r, "-u", "tester", "-p", "pw-basic-77"], "");
    run.expect_code(0);
    assert!(run.stderr.contains("WARNING! Using --password via the CLI is insecure. Use --password-stdin."), "{}", run.stderr);

    // logout removes the entry (and only it); then the registry's refusal says none were found.
    let run = ferry(&home, &config, &["logout", r]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("Removed the credentials for {r} from {}", docker.display())), "{}", run.stdout);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&docker).unwrap()).unwrap();
    assert!(doc["auths"].get(r).is_none() && doc["auths"]["other.example"]["auth"] == "dTpw", "{doc}");
    let run = ferry(&home, &config, &gather_args(&list, &format!("{r}/low/mirror:sync-2")));
    run.expect_code(1);
    let home_path = home.path().display();
    let expected = format!(
        "the registry needs credentials and none were found (401 Unauthorized; looked in: {home_path}/.docker/config.json, {home_path}/run/containers/auth.json, {home_path}/.config/containers/auth.json); run `ferry login {r}`"
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);
    let run = ferry(&home, &config, &["logout", r]);
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("Not logged in to {r}")), "{}", run.stdout);
}

#[test]
fn login_to_a_token_registry_asks_the_token_server() {
    let reg = Registry::builder().token_auth(&[("alice", "alice-token-pw")]).start();
    let r = reg.addr();
    let config = config_for(&[&reg]);
    let home = TestHome::new();
    let run = ferry_input(&home, &config, &[], &["login", r, "-u", "alice", "--password-stdin"], "not-alices");
    run.expect_code(1);
    assert!(run.stderr.contains("the registry refused the credentials from the command line (401 Unauthorized"), "{}", run.stderr);
    assert!(!home.docker_config_dir().join("config.json").exists());
    let before = reg.token_requests();
    ferry_input(&home, &config, &[], &["login", r, "-u", "alice", "--password-stdin"], "alice-token-pw").expect_code(0);
    assert!(reg.token_requests() > before, "the token server was asked");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(home.docker_config_dir().join("config.json")).unwrap()).unwrap();
    assert_eq!(doc["auths"][r]["auth"], b64("alice:alice-token-pw"));

    // A push with the stored password: the token requests are logged, the tokens (JWTs,
    // "eyJ…") and the password are not.
    images::single_image(&reg.pusher(), "low/app", "v1", 43);
    let list = write_file(&home, "sources.list", &format!("{r}/low/app:v1\n"));
    let run = ferry(&home, &config, &[&["-v", "debug"][..], &gather_args(&list, &format!("{r}/low/mirror:sync-1"))].concat());
    run.expect_code(0);
    assert!(run.stderr.contains("/token?service=") && run.stderr.contains("scope=repository%3Alow%2Fapp%3Apull"), "{}", run.stderr);
    for secret in ["alice-token-pw", "eyJ", "Bearer ", &b64("alice:alice-token-pw")] {
        assert!(!run.stderr.contains(secret) && !run.stdout.contains(secret), "{secret} printed:\n{}", run.stderr);
    }
}

#[test]
fn registry_auth_file_and_podman_auth_json_are_read_after_docker_config() {
    let reg = Registry::builder().basic_auth("podder", "pod-pw-5").start();
    let p = reg.pusher();
    images::single_image(&p, "low/app", "v1", 42);
    let r = reg.addr();
    let config = config_for(&[&reg]);
    let home = TestHome::new();
    let cfg = home.path().join("ferry-config.yaml");
    std::fs::write(&cfg, &config).unwrap();
    let auth_json = |user_pw: &str| format!("{{\"auths\":{{\"{r}\":{{\"auth\":\"{}\"}}}}}}", b64(user_pw));
    let list = write_file(&home, "sources.list", &format!("{r}/low/app:v1\n"));
    let gather = |env: &[(&str, &str)], tag: &str| {
        let dest = format!("{r}/low/mirror:{tag}");
        ferry_env(&home, env, &[&["--config", cfg.to_str().unwrap(), "-v", "debug"][..], &gather_args(&list, &dest)].concat())
    };

    // REGISTRY_AUTH_FILE (skopeo's and podman's variable).
    let file = home.path().join("skopeo-auth.json");
    std::fs::write(&file, auth_json("podder:pod-pw-5")).unwrap();
    let run = gather(&[("REGISTRY_AUTH_FILE", file.to_str().unwrap())], "s1");
    run.expect_code(0);
    assert!(run.stderr.contains(&format!("credentials for {r}: from {}", file.display())), "{}", run.stderr);

    // podman's $XDG_RUNTIME_DIR/containers/auth.json.
    let podman = home.path().join("run/containers/auth.json");
    std::fs::create_dir_all(podman.parent().unwrap()).unwrap();
    std::fs::write(&podman, auth_json("podder:pod-pw-5")).unwrap();
    let run = gather(&[], "s2");
    run.expect_code(0);
    assert!(run.stderr.contains(&format!("credentials for {r}: from {}", podman.display())), "{}", run.stderr);

    // Docker's config.json comes first: its wrong password is the one refused, and named.
    std::fs::write(home.docker_config_dir().join("config.json"), auth_json("podder:stale-pw-9")).unwrap();
    let run = gather(&[("REGISTRY_AUTH_FILE", file.to_str().unwrap())], "s3");
    run.expect_code(1);
    let docker = home.docker_config_dir().join("config.json");
    assert!(
        run.stderr.contains(&format!("the registry refused the credentials from {} (401 Unauthorized", docker.display())),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("stale-pw-9") && !run.stderr.contains(&b64("podder:stale-pw-9")), "{}", run.stderr);

    // ferry's own registryAuthFile comes before Docker's.
    let own = format!("{config}registryAuthFile: {}\n", file.display());
    std::fs::write(&cfg, own).unwrap();
    let run = gather(&[], "s4");
    run.expect_code(0);
    assert!(run.stderr.contains(&format!("credentials for {r}: from {}", file.display())), "{}", run.stderr);
    assert_eq!(p.tags("low/mirror"), vec!["s1", "s2", "s4"]);
}
