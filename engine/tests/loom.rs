#![cfg(loom)]
#[test]
fn smoke() {
    loom::model(|| {});
}
