// Label mappings (native -> class), the MEGC2019 membership list, and the AU sets, as data.
// Facts: shared/notes/datasets.md §5 (mappings, composite) and §6 (AU sets); docs/datasets.md for users.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace merx {

/// Which mapping turns a clip's native emotion into its class.
///   native  the class is the native label itself
///   megc3   negative / positive / surprise by the MEGC2019 rules (per corpus; unlisted labels are dropped)
///   custom  `map` (native label -> class; matched case-insensitively after trimming)
struct LabelMapping {
  std::string name = "native";             // native | megc3 | custom
  std::map<std::string, std::string> map;  // custom only
  std::string unmapped = "drop";           // drop | error: what happens to a clip whose label maps to nothing
};

/// The three MEGC2019 classes in label-index order (0 negative, 1 positive, 2 surprise).
const std::vector<std::string>& megc3_classes();

/// The megc3 class of `native` in corpus `adapter` (casme2, samm, smic_hs/_vis/_nir, casme3a, manifest),
/// or nullopt when the rules drop it (CASME II "others", "fear", "sadness"; SAMM "Other"; ...).
/// Matching ignores case and surrounding spaces, but the rules differ per corpus: SAMM Fear/Sadness ->
/// negative, CASME II fear/sadness -> dropped. manifest: negative/positive/surprise pass through.
/// Throws UserError when megc3 has no rules for `adapter` (casme, mmew, fourdme, ...).
std::optional<std::string> megc3_class(const std::string& adapter, const std::string& native);

/// True when megc3 has rules for `adapter`.
bool megc3_defined(const std::string& adapter);

/// Applies `mapping` to one label. nullopt = the clip has no class (dropped unless unmapped == "error").
std::optional<std::string> map_label(const LabelMapping& mapping, const std::string& adapter,
                                     const std::string& native);

/// The MEGC2019 ground-truth list (`labels.membership`): a CSV without header, one clip per row:
///   dataset,subject,clip,label
/// dataset: casme2 | smic | samm, or a spec dataset name / adapter name; subject and clip as written
/// (padding is normalised: "6" = "006", "s01" = "s1", "s01_ne_01" = "s1_ne_01"); label: 0/1/2 (= megc3
/// negative/positive/surprise) or a class name. Blank lines and rows of empty cells (",,,") are skipped;
/// CRLF or LF. Errors (UserError) name the file and 1-based line.
struct MembershipEntry {
  std::string dataset, subject, clip;
  std::string label;  // class name (numbers already turned into megc3 names)
  int line = 0;
};

struct Membership {
  std::filesystem::path file;
  std::vector<MembershipEntry> entries;

  /// Reads and checks the file (4 columns, label 0..2 or a non-empty name, no duplicate clip).
  static Membership read(const std::filesystem::path& file);

  /// True when membership dataset name `listed` refers to a dataset called `dataset` with adapter
  /// `adapter`: equal to either, or the MEGC alias "smic" for smic_hs.
  static bool matches_dataset(const std::string& listed, const std::string& dataset,
                              const std::string& adapter);
};

/// Normalised form used to join names across files: lower case, leading zeros of every digit run removed
/// ("sub01" -> "sub1", "006_1_2" -> "6_1_2", "s01_ne_01" -> "s1_ne_1").
std::string normalise_name(const std::string& name);

/// AU sets (shared/notes/datasets.md §6): "cross" (the 12-AU cross-dataset set 1,2,4,5,6,7,9,10,12,14,15,17)
/// and per corpus "casme", "casme2", "samm", "mmew", "fourdme". Throws UserError for an unknown name.
const std::vector<int>& au_set(const std::string& name);
/// The names au_set() accepts, sorted.
std::vector<std::string> au_set_names();

}  // namespace merx
