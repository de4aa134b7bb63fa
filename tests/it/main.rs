//! The one integration-test binary: the CLI contract as a user meets it, end to end.

mod bad_input;
mod crash;
mod demo;
mod lab;
mod record;
mod support;
