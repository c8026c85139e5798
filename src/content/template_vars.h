// Pages shared by partners that differ only by variables (DESIGN.md "Pages on a partner": main
// signs a shared template and the partner's variable table, and the partner applies them the
// same way).
//
// Main renders such a page once with a marker in place of each partner variable: the template.
// Its release entry names the template's blob with FileEntry::vars, and the release carries the
// partner's values (ReleaseManifest::variables), so every partner's entry for that page is the
// same and main stores the page once, however many partners show it. The partner fetches the
// template (checked against its signed hash like any blob), puts in the values and serves the
// result: every byte it serves follows from bytes main signed.
//
// The marker of variable NAME is U+E000, NAME, U+E001 (UTF-8 EE 80 80, NAME, EE 80 81):
// private-use code points that mustache, cmark-gfm and HTML escaping leave as they are. A value
// is put in HTML-escaped exactly as mustache's {{NAME}} escapes it (& < > " ' become &amp; &lt;
// &gt; &quot; &apos;; nothing else changes). Main uses a template only when putting in the
// values gives exactly the page rendered directly with them (content/builder.h), so a page that
// uses a variable another way (raw {{{NAME}}}, in a section, through Markdown) is stored per
// partner as before. These rules are part of the sync protocol.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/status.h"
#include "content/blob_store.h"
#include "content/release.h"

namespace tieup::content {

// The marker standing for variable `name` in a template.
std::string VariableMarker(std::string_view name);

// True iff `text` holds a marker's opening code point (U+E000).
bool HasVariableMarker(std::string_view text);

// `tmpl` with every marker replaced by its variable's value, HTML-escaped. InvalidArgument for a
// marker that names no variable of `variables` or is not closed; text without markers comes
// back unchanged.
Result<std::string> SubstituteVariables(std::string_view tmpl,
                                        const std::map<std::string, std::string>& variables);

// The partner's form of main's release `release`: each template entry (vars) replaced by the page
// made from it (its blob read from `blobs`, checked, the release's variables put in), stored in
// `blobs` with a gzip variant where the builder would make one, and naming its template in
// FileEntry::expanded_from. Other entries are kept. With `previous` (an earlier expanded release
// of the site) and the same variables, the result is `previous` changed by the difference between
// its main form (`previous_main` when the caller has it, else MainForm(*previous)) and `release`:
// only changed pages are made, and the result shares the storage of every unchanged chunk with
// `previous` (content/release.h FileMap). NotFound when a needed template blob is absent,
// DataLoss when damaged, InvalidArgument (naming the file) when a template names a variable the
// release lacks.
Result<ReleaseManifest> ExpandRelease(const ReleaseManifest& release, BlobStore& blobs,
                                      const ReleaseManifest* previous = nullptr,
                                      const ReleaseManifest* previous_main = nullptr);

// Makes again the page of `entry` (and its gzip variant), an entry of the expanded release
// `release` made from a template, from that template in `blobs`, and stores each after checking it
// against the entry's hash: a missing or damaged page is repaired without asking main. NotFound
// when the template is absent, DataLoss when it is damaged or the result is not the entry's.
Status RemakeExpandedPage(const ReleaseManifest& release, const FileEntry& entry, BlobStore& blobs);

// Main's form of an expanded release (ExpandRelease's inverse): each entry made from a template
// is the template's entry again. Main's signatures, deltas and ReleaseManifest::Hash() are of
// this form.
ReleaseManifest MainForm(const ReleaseManifest& expanded);

// True iff some entry of `release` is a template (vars) or was made from one.
bool UsesTemplates(const ReleaseManifest& release);

}  // namespace tieup::content
