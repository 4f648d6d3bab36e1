#!/usr/bin/env bash
# Builds every libFuzzer target under fuzz/ with clang (ASan + UBSan) and runs each for
# FUZZ_SECONDS (default 60). A crash fails the script and leaves crash-* in build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
out=build/fuzz
mkdir -p "$out"
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I.)

mail_decoders="mail/encoding.cc mail/charset.cc mail/rfc2047.cc mail/content_type.cc mail/html_text.cc mail/uri_extract.cc"
mail_all="$mail_decoders mail/header.cc mail/message.cc mail/message_text.cc"
rule_loader="spam/rules/rule.cc spam/rules/loader.cc spam/rules/meta.cc spam/rules/syntax.cc spam/rules/conditions.cc spam/rules/replace_tags.cc spam/match/tag_prefilter.cc"
absl_all="$(pkg-config --libs absl_strings absl_status absl_statusor absl_flat_hash_map absl_hash absl_raw_hash_set)"
dkim_core="spam/dkim/crypto.cc spam/dkim/signature.cc spam/dkim/canonical.cc spam/dkim/key_record.cc spam/dkim/key_cache.cc spam/auth/tag_list.cc mail/header.cc mail/encoding.cc"

# target name -> the sources it needs besides itself, and libraries
declare -A sources=(
  [sasl_fuzz]="protocols/sasl/sasl_server.cc"
  [smtp_command_fuzz]="protocols/smtp/command_reader.cc protocols/smtp/command.cc"
  [smtp_data_fuzz]="protocols/smtp/data_reader.cc"
  [smtp_reply_fuzz]="delivery/relay/smtp_reply.cc mail/header.cc"
  [pop3_command_fuzz]="protocols/pop3/command.cc protocols/pop3/maildrop.cc mail/header.cc"
  [managesieve_command_fuzz]="protocols/managesieve/command.cc mail/charset.cc"
  [dot_stuffing_fuzz]="mail/dot_stuffing.cc"
  [imap_command_fuzz]="protocols/imap/command_reader.cc protocols/imap/command_parser.cc protocols/imap/parser_cursor.cc protocols/imap/sequence_set.cc protocols/imap/fetch_parser.cc protocols/imap/search_parser.cc protocols/imap/qresync_parser.cc protocols/imap/sort_parser.cc protocols/imap/date_time.cc protocols/imap/append_parser.cc protocols/imap/imap_url.cc protocols/imap/metadata_parser.cc protocols/imap/notify_parser.cc delivery/mailstore/metadata_format.cc mail/date.cc"
  [imap_url_fuzz]="protocols/imap/imap_url.cc protocols/imap/parser_cursor.cc protocols/imap/fetch_parser.cc protocols/imap/sequence_set.cc protocols/imap/date_time.cc mail/date.cc"
  [imap_thread_fuzz]="$mail_all mail/date.cc mail/casefold.cc protocols/imap/message_render.cc protocols/imap/base_subject.cc protocols/imap/sort.cc protocols/imap/thread.cc"
  [mail_decode_fuzz]="$mail_decoders"
  [dnsbl_spec_fuzz]="spam/dns/dnsbl_spec.cc"
  [greylist_log_fuzz]="spam/greylist_log.cc spam/greylist.cc"
  [received_fuzz]="spam/evals/received.cc spam/evals/received_forms.cc spam/evals/regex.cc $mail_all"
  [dmarc_record_fuzz]="spam/dmarc/record.cc spam/dmarc/public_suffix.cc mail/header.cc"
  [authentication_results_fuzz]="spam/auth/authentication_results.cc spam/auth/message_auth.cc mail/header.cc"
  [mail_message_fuzz]="$mail_all"
  [imap_render_fuzz]="$mail_all protocols/imap/message_render.cc"
  [imap_preview_fuzz]="$mail_all protocols/imap/preview.cc protocols/imap/object_id.cc"
  [mail_date_fuzz]="mail/date.cc mail/casefold.cc mail/charset.cc"
  [rule_loader_fuzz]="$rule_loader"
  [perl_regex_fuzz]="spam/match/perl_regex.cc spam/match/regex_prefilter.cc"
  [bayes_tokens_fuzz]="$mail_all spam/bayes/tokens.cc spam/bayes/model.cc"
  [tag_prefilter_fuzz]="spam/match/tag_prefilter.cc"
  [mailstore_index_fuzz]="delivery/mailstore/folder_index.cc"
  [deflate_stream_fuzz]="runtime/deflate_stream.cc"
  [fts_index_fuzz]="delivery/fts/text_index.cc"
  [relay_transport_fuzz]="delivery/relay/transport.cc delivery/relay/mx_plan.cc"
  [metadata_notify_fuzz]="protocols/imap/command_reader.cc protocols/imap/command_parser.cc protocols/imap/parser_cursor.cc protocols/imap/sequence_set.cc protocols/imap/fetch_parser.cc protocols/imap/search_parser.cc protocols/imap/qresync_parser.cc protocols/imap/sort_parser.cc protocols/imap/date_time.cc protocols/imap/append_parser.cc protocols/imap/imap_url.cc protocols/imap/metadata_parser.cc protocols/imap/notify_parser.cc delivery/mailstore/metadata_format.cc mail/date.cc"
  [mailstore_formats_fuzz]="delivery/mailstore/maildir_filename.cc delivery/mailstore/mutf7.cc delivery/mailstore/folder_name.cc delivery/mailstore/dovecot_uidlist.cc delivery/mailstore/dovecot_keywords.cc delivery/mailstore/subscriptions.cc mail/header.cc"
  [queue_state_fuzz]="delivery/queue/queue_format.cc delivery/queue/retry_policy.cc"
  [dsn_fuzz]="delivery/relay/dsn.cc delivery/relay/notice_format.cc delivery/relay/smtp_reply.cc $mail_all mail/date.cc"
  [sieve_memory_fuzz]="delivery/sieve/sieve_memory.cc"
  [sieve_outgoing_fuzz]="delivery/sieve/outgoing_message.cc delivery/sieve/vacation.cc delivery/sieve/reject_notice.cc delivery/sieve/address_part.cc delivery/relay/dsn.cc delivery/relay/notice_format.cc delivery/relay/smtp_reply.cc $mail_all mail/date.cc"
  [sieve_parser_fuzz]="delivery/sieve/lexer.cc delivery/sieve/parser.cc delivery/sieve/extensions.cc delivery/sieve/checker.cc delivery/sieve/checker_address.cc delivery/sieve/encoded_character.cc mail/header.cc mail/charset.cc"
  [sieve_match_fuzz]="delivery/sieve/comparator.cc delivery/sieve/match.cc delivery/sieve/match_regex.cc delivery/sieve/match_list.cc delivery/sieve/address_part.cc delivery/sieve/variables.cc delivery/sieve/encoded_character.cc mail/casefold.cc mail/header.cc mail/encoding.cc mail/charset.cc mail/rfc2047.cc"
  [sieve_message_view_fuzz]="delivery/sieve/message_view.cc $mail_all"
  [sieve_run_fuzz]="delivery/sieve/program.cc delivery/sieve/run_tests.cc delivery/sieve/run_commands.cc delivery/sieve/result.cc delivery/sieve/imap4flags.cc delivery/sieve/date_part.cc delivery/sieve/spamtest.cc delivery/sieve/message_view.cc delivery/sieve/lexer.cc delivery/sieve/parser.cc delivery/sieve/extensions.cc delivery/sieve/checker.cc delivery/sieve/checker_address.cc delivery/sieve/comparator.cc delivery/sieve/match.cc delivery/sieve/match_regex.cc delivery/sieve/match_list.cc delivery/sieve/address_part.cc delivery/sieve/variables.cc delivery/sieve/encoded_character.cc $mail_all mail/date.cc mail/casefold.cc"
  [queue_control_fuzz]="delivery/queue/queue_control_protocol.cc delivery/queue/queue_format.cc"
  [spf_record_fuzz]="spam/spf/record.cc spam/spf/macro.cc spam/spf/address.cc mail/header.cc"
  [spf_check_fuzz]="spam/spf/check.cc spam/spf/record.cc spam/spf/macro.cc spam/spf/address.cc spam/dns/static_dns_client.cc spam/auth/message_auth.cc mail/header.cc"
  [dkim_signature_fuzz]="$dkim_core"
  [dkim_verify_fuzz]="$dkim_core spam/dkim/verifier.cc spam/auth/message_auth.cc"
  [arc_verify_fuzz]="$dkim_core spam/dkim/verifier.cc spam/auth/message_auth.cc spam/arc/arc_set.cc spam/arc/verifier.cc"
  [dkim_signing_file_fuzz]="spam/dkim/key_store.cc spam/dkim/crypto.cc spam/auth/tag_list.cc mail/encoding.cc"
)
declare -A libs=(
  [sasl_fuzz]="-lssl -lcrypto"
  [smtp_command_fuzz]=""
  [smtp_data_fuzz]=""
  [smtp_reply_fuzz]="$(pkg-config --libs absl_strings)"
  [pop3_command_fuzz]="$(pkg-config --libs absl_strings absl_status absl_statusor)"
  [managesieve_command_fuzz]="$(pkg-config --libs absl_strings absl_hash absl_raw_hash_set)"
  [dot_stuffing_fuzz]=""
  [imap_command_fuzz]="$(pkg-config --libs absl_strings absl_status absl_statusor)"  # metadata_format.cc (METADATA entry names)
  [imap_url_fuzz]=""
  [mail_decode_fuzz]="$(pkg-config --libs absl_hash absl_raw_hash_set)"
  [dnsbl_spec_fuzz]="$(pkg-config --libs absl_status absl_statusor absl_strings)"
  [greylist_log_fuzz]="$(pkg-config --libs absl_strings absl_hash absl_raw_hash_set)"
  [received_fuzz]="-lpcre2-8 $absl_all"
  [dmarc_record_fuzz]="-lidn2 $absl_all"
  [authentication_results_fuzz]="$absl_all"
  [mail_message_fuzz]="$absl_all"
  [imap_render_fuzz]="$absl_all"
  [imap_preview_fuzz]="-lcrypto $absl_all"
  [imap_thread_fuzz]="$absl_all"
  [mail_date_fuzz]="$(pkg-config --libs absl_hash absl_raw_hash_set)"
  [rule_loader_fuzz]="$absl_all"
  [perl_regex_fuzz]="-lpcre2-8 $absl_all"
  [bayes_tokens_fuzz]="$absl_all"
  [tag_prefilter_fuzz]="-lpcre2-8"
  [mailstore_formats_fuzz]="$(pkg-config --libs absl_strings absl_status absl_statusor)"
  [queue_state_fuzz]="-lz $(pkg-config --libs absl_strings absl_status absl_statusor)"
  [queue_control_fuzz]="-lz $(pkg-config --libs absl_strings absl_status absl_statusor)"
  [mailstore_index_fuzz]="-lz $(pkg-config --libs absl_strings absl_status absl_statusor)"
  [deflate_stream_fuzz]="-lz"
  [fts_index_fuzz]="-lz $absl_all"
  [relay_transport_fuzz]="$(pkg-config --libs absl_strings absl_status absl_statusor)"
  [metadata_notify_fuzz]="$(pkg-config --libs absl_strings absl_status absl_statusor)"
  [dsn_fuzz]="$(pkg-config --libs absl_str_format) $absl_all"
  [sieve_memory_fuzz]="-lcrypto $absl_all"
  [sieve_outgoing_fuzz]="$(pkg-config --libs absl_str_format) $absl_all"
  [sieve_parser_fuzz]="$(pkg-config --libs absl_strings absl_status absl_statusor absl_str_format absl_hash absl_raw_hash_set)"
  [sieve_match_fuzz]="$(pkg-config --libs absl_strings absl_status absl_statusor absl_flat_hash_map absl_hash absl_raw_hash_set)"
  [sieve_message_view_fuzz]="$absl_all"
  [sieve_run_fuzz]="$(pkg-config --libs absl_str_format) $absl_all"
  [spf_record_fuzz]="$(pkg-config --libs absl_strings absl_status absl_statusor)"
  [spf_check_fuzz]="$(pkg-config --libs absl_strings absl_status absl_statusor)"
  [dkim_signature_fuzz]="-lcrypto $(pkg-config --libs absl_strings absl_status absl_statusor)"
  [dkim_verify_fuzz]="-lcrypto $(pkg-config --libs absl_strings absl_status absl_statusor)"
  [arc_verify_fuzz]="-lcrypto $(pkg-config --libs absl_strings absl_status absl_statusor)"
  [dkim_signing_file_fuzz]="-lcrypto $absl_all"
)

# Per-target compiler flags. clang 14 fails on coroutine bodies built with the fuzzer's
# coverage and UBSan's -fsanitize=function together ("Cannot represent a difference across
# sections"), so targets that compile coroutines leave that one check out.
declare -A extra_flags=(
  [spf_check_fuzz]="-fno-sanitize=function"
  [dkim_verify_fuzz]="-fno-sanitize=function"
  [arc_verify_fuzz]="-fno-sanitize=function"
)

for target in "${!sources[@]}"; do
  echo "== fuzz $target (${seconds}s)"
  # shellcheck disable=SC2086
  clang++ "${flags[@]}" ${extra_flags[$target]:-} ${sources[$target]} "fuzz/$target.cc" ${libs[$target]} -o "$out/$target"
  mkdir -p "$out/corpus-$target"
  # Seed inputs kept in fuzz/seeds/<target>/ start the corpus (copied, never overwritten).
  if [[ -d "fuzz/seeds/$target" ]]; then cp -n fuzz/seeds/"$target"/* "$out/corpus-$target"/ || true; fi
  # Inputs that once crashed a target stay in fuzz/regressions/<target>/ and run first.
  if [[ -d "fuzz/regressions/$target" ]]; then
    "$out/$target" fuzz/regressions/"$target"/* >"$out/$target.regressions.log" 2>&1 ||
      { tail -40 "$out/$target.regressions.log"; exit 1; }
  fi
  if ! (cd "$out" && "./$target" "corpus-$target" -max_total_time="$seconds" -print_final_stats=1 >"$target.log" 2>&1); then
    tail -40 "$out/$target.log"
    echo "fuzz: $target failed; the input is in $out/crash-* (add it to fuzz/regressions/$target/)" >&2
    exit 1
  fi
  tail -3 "$out/$target.log"
done
