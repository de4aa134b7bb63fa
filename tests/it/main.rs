//! The one integration-test binary: the CLI contract as a user meets it, end to end.

mod alerts;
mod bad_input;
mod cli;
mod crash;
mod demo;
mod deploy;
mod doctor;
mod lab;
mod oscal;
mod prune;
mod record;
mod report;
mod report_html;
mod serve;
mod simulate;
mod support;
mod verify_docs;
