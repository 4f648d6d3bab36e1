# variables (RFC 5229): set with every modifier (4.1, applied in precedence order),
# the string test (5), ${N} match variables, and unknown variables as "".
# (In :matches "[" is no bracket expression: ordering with :value instead.)
require ["variables", "fileinto", "relational", "comparator-i;ascii-numeric"];
if header :matches "from" "*<*@*>*" {
  set "user" "${2}";
  set "host" "${3}";
} elsif header :matches "from" "*@*" {
  set "user" "${1}";
  set :lower "host" "${2}";
}
set :lower :upperfirst "cap" "${user}";
set :length "len" "${user}";
set :quotewildcard "q" "${host}*";
set :upper "shout" "${undefined_variable}x";
if string :is "${user}" "" {
  fileinto "From.none";
} elsif string :value "gt" :comparator "i;ascii-numeric" "${len}" "14" {
  fileinto "From.long-${len}";
} elsif string :value "lt" "${cap}" "N" {
  fileinto "From.A-M";
} elsif string :matches "${host}*" "${q}" {
  # :quotewildcard made the "*" literal: this matches the literal "*" only.
  fileinto "From.rest-${shout}";
}
