//! ferry-testkit (in progress).
