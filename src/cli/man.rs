//! `imagefs man`: the manual pages. `imagefs(1)` is clap's rendering of the command line
//! followed by sections taken from the documentation (the tree from the README, the files,
//! control files and errno table from docs/SEMANTICS.md), so the pages never drift from the
//! docs; each subcommand, nested ones included, gets its own page (`imagefs-mount(1)`,
//! `imagefs-store-set(1)`, ...), the pages imagefs(1) names.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::{Cli, Failure, EXIT_STATUS};

const README: &str = include_str!("../../README.md");
const SEMANTICS: &str = include_str!("../../docs/SEMANTICS.md");

/// The environment variables imagefs reads.
const ENVIRONMENT: [(&str, &str); 6] = [
    (
        "IMAGEFS_STORE",
        "the local store, as --store FILE (which takes precedence)",
    ),
    (
        "XDG_DATA_HOME",
        "where the default store lives: $XDG_DATA_HOME/imagefs/store.db",
    ),
    (
        "HOME",
        "without XDG_DATA_HOME, the default store is ~/.local/share/imagefs/store.db",
    ),
    (
        "RUST_LOG",
        "the log level of mount and serve (error, warn, info, debug; default warn)",
    ),
    (
        "TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY",
        "credentials of the tencentcloud backend (else --profile NAME, ~/.tccli/NAME.credential)",
    ),
    (
        "TENCENTCLOUD_SESSION_TOKEN",
        "the token of temporary credentials, with the two above",
    ),
];

/// `imagefs man [--dir DIR]`: prints imagefs(1), or installs every page as DIR/man1/*.1.
pub fn man(dir: Option<&Path>) -> Result<(), Failure> {
    let pages = pages().map_err(|e| Failure(format!("cannot render the manual: {e}")))?;
    let Some(dir) = dir else {
        let (_, main_page) = &pages[0];
        std::io::stdout()
            .write_all(main_page)
            .map_err(|e| Failure(format!("cannot write the manual: {e}")))?;
        return Ok(());
    };
    let section = dir.join("man1");
    std::fs::create_dir_all(&section)
        .map_err(|e| Failure(format!("cannot create {}: {e}", section.display())))?;
    for (name, page) in &pages {
        let file = section.join(name);
        std::fs::write(&file, page)
            .map_err(|e| Failure(format!("cannot write {}: {e}", file.display())))?;
    }
    eprintln!(
        "imagefs: wrote {} pages to {} (read them with `man -M {} imagefs`)",
        pages.len(),
        section.display(),
        dir.display()
    );
    Ok(())
}

/// Every page as (file name, roff): imagefs.1 first, then one per subcommand.
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut pages = vec![("imagefs.1".to_string(), main_page(&command)?)];
    let mut pending: Vec<clap::Command> = visible_subcommands(&command);
    while let Some(sub) = pending.pop() {
        pending.extend(visible_subcommands(&sub));
        let man = clap_mangen::Man::new(sub);
        let mut page = Vec::new();
        man.render(&mut page)?;
        pages.push((man.get_filename(), page));
    }
    pages[1..].sort();
    Ok(pages)
}

fn visible_subcommands(command: &clap::Command) -> Vec<clap::Command> {
    command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .cloned()
        .collect()
}

/// imagefs(1): clap's sections, then the tree, files, control files, errors, exit status,
/// environment and the other pages.
fn main_page(command: &clap::Command) -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    let mut text = String::new();
    text.push_str(".SH FILES\nThe tree of a mount:\n.PP\n.nf\n");
    for line in code_block_after(README, "## The tree") {
        text.push_str(&escape(line));
        text.push('\n');
    }
    text.push_str(".fi\n.PP\nEvery file (mode, contents):\n");
    text.push_str(&table(section(SEMANTICS, "## Files")));
    text.push_str(".SS Control files\nOne command per write(2); reading shows its outcome.\n");
    text.push_str(&table(section(SEMANTICS, "## Control files")));
    text.push_str(".SH ERRORS\nA refused command or change returns an errno and adds a line \
                   (time, operation, path, API error code, message) to the mount's \\fBerrors\\fR file.\n");
    text.push_str(&table(section(SEMANTICS, "## Refusals")));
    text.push_str(".SH EXIT STATUS\n");
    for line in EXIT_STATUS.lines() {
        let (code, meaning) = line.trim().split_once("  ").unwrap_or((line, ""));
        text.push_str(&format!(
            ".TP\n\\fB{code}\\fR\n{}\n",
            escape(meaning.trim())
        ));
    }
    text.push_str(".SH ENVIRONMENT\n");
    for (name, meaning) in ENVIRONMENT {
        text.push_str(&format!(".TP\n\\fB{name}\\fR\n{}\n", escape(meaning)));
    }
    text.push_str(".SH SEE ALSO\n");
    let others: Vec<String> = all_names(command)
        .into_iter()
        .map(|name| format!("\\fB{name}\\fR(1)"))
        .collect();
    text.push_str(&others.join(", "));
    text.push_str(
        "\n.PP\nThe README, docs/SEMANTICS.md and docs/TROUBLESHOOTING.md of the source.\n",
    );
    page.extend_from_slice(text.as_bytes());
    man.render_version_section(&mut page)?;
    Ok(page)
}

/// The page names of every subcommand, nested ones included (`imagefs-store-set`).
fn all_names(command: &clap::Command) -> Vec<String> {
    let mut names = Vec::new();
    for sub in visible_subcommands(command) {
        names.push(sub.get_display_name().unwrap_or(sub.get_name()).to_string());
        names.extend(all_names(&sub));
    }
    names.sort();
    names
}

/// The text of a Markdown section, from its heading to the next heading of its level.
fn section<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let Some(start) = markdown.find(&format!("{heading}\n")) else {
        return "";
    };
    let body = &markdown[start + heading.len()..];
    let end = body.find("\n## ").unwrap_or(body.len());
    &body[..end]
}

/// The lines of the first fenced code block of a section.
fn code_block_after<'a>(markdown: &'a str, heading: &str) -> Vec<&'a str> {
    section(markdown, heading)
        .lines()
        .skip_while(|line| !line.starts_with("```"))
        .skip(1)
        .take_while(|line| !line.starts_with("```"))
        .collect()
}

/// The first Markdown table of a section as tagged paragraphs: the first cell as the tag, the
/// others after it.
fn table(markdown: &str) -> String {
    let mut roff = String::new();
    let rows = markdown
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2); // the header and its separator
    for row in rows {
        let cells: Vec<&str> = row.trim().trim_matches('|').split(" | ").collect();
        let Some((tag, rest)) = cells.split_first() else {
            continue;
        };
        let rest: Vec<&str> = rest
            .iter()
            .map(|cell| cell.trim())
            .filter(|cell| !cell.is_empty())
            .collect();
        roff.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            escape(&plain(tag.trim())),
            escape(&plain(&rest.join("; ")))
        ));
    }
    roff
}

/// Markdown inline marks removed: code spans and emphasis become plain text, and a link to a
/// section of the document (`[Tags](#tags)`) names that section of docs/SEMANTICS.md.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('[') {
        out.push_str(before);
        match after
            .split_once("](#")
            .and_then(|(title, tail)| Some((title, tail.split_once(')')?.1)))
        {
            Some((title, tail)) if !title.contains('[') => {
                out.push_str(&format!("{title} in docs/SEMANTICS.md"));
                rest = tail;
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace('`', "").replace("**", "").replace("\\|", "|")
}

/// Text made safe for roff: backslashes escaped, and a line never starts a request.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_sections_are_found() {
        assert!(code_block_after(README, "## The tree")[0].starts_with("<mountpoint>/"));
        assert!(table(section(SEMANTICS, "## Files")).contains("account.json"));
        assert!(table(section(SEMANTICS, "## Control files")).contains("copy_to"));
        assert!(table(section(SEMANTICS, "## Refusals")).contains("EDQUOT"));
    }

    #[test]
    fn links_to_sections_name_them() {
        assert_eq!(
            plain("write ([Tags](#tags)); see [Instances and zones](#instances-and-zones)"),
            "write (Tags in docs/SEMANTICS.md); see Instances and zones in docs/SEMANTICS.md"
        );
        assert_eq!(plain("`a[0]` [x] y"), "a[0] [x] y");
    }
}
