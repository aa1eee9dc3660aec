# bash completion for bluegreen(1). Installed by `meson install` as
# share/bash-completion/completions/bluegreen; or source it from ~/.bashrc.
#
# Completes the commands, their options, site names (CONFIG_DIR/sites/*.conf,
# CONFIG_DIR found as bluegreen finds it: -c, $BLUEGREEN_CONFIG, the current
# directory when it holds global.conf, /etc/bluegreen) and, after `apply`,
# the token of the last plan still pending: the newest "plan" entry of
# `bluegreen history --json` whose result is "pending" and that no later
# "apply" used (one read of the journal, a few milliseconds).
# test/release/t-completion.sh runs it for real.

# bash splits words at COMP_WORDBREAKS, which holds "=": `--config=/x`
# arrives as "--config" "=" "/x". Rebuild the line as bluegreen sees it
# into bg_words/bg_cword (locals of _bluegreen): an option, "=" and the
# word after it are one word again.
_bluegreen_words()
{
	local i n w
	bg_words=() bg_cword=0
	for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
		w=${COMP_WORDS[i]}
		n=${#bg_words[@]}
		if [[ $w == = ]] && ((n > 1)) && [[ ${bg_words[n - 1]} == --* && ${bg_words[n - 1]} != *=* ]]; then
			bg_words[n - 1]+==
			((i == COMP_CWORD)) && bg_cword=$((n - 1))
			if ((i < COMP_CWORD)) && ((i + 1 < ${#COMP_WORDS[@]})); then
				((i++))
				bg_words[n - 1]+=${COMP_WORDS[i]}
				((i == COMP_CWORD)) && bg_cword=$((n - 1))
			fi
			continue
		fi
		((i == COMP_CWORD)) && bg_cword=$n
		bg_words+=("$w")
	done
}

_bluegreen_config_dir()
{
	local i
	for ((i = 1; i < bg_cword; i++)); do
		case ${bg_words[i]} in
		-c | --config)
			printf '%s\n' "${bg_words[i + 1]}"
			return
			;;
		--config=*)
			printf '%s\n' "${bg_words[i]#--config=}"
			return
			;;
		esac
	done
	if [[ -n ${BLUEGREEN_CONFIG-} ]]; then
		printf '%s\n' "$BLUEGREEN_CONFIG"
	elif [[ -f global.conf ]]; then
		printf '.\n'
	else
		printf '/etc/bluegreen\n'
	fi
}

_bluegreen_sites()
{
	local dir f sites=()
	dir=$(_bluegreen_config_dir)
	for f in "$dir"/sites/*.conf; do
		[[ -f $f ]] || continue
		f=${f##*/}
		sites+=("${f%.conf}")
	done
	printf '%s\n' "${sites[@]}"
}

# The token of the newest pending plan in the journal, if any.
_bluegreen_pending_token()
{
	local dir line action token result pending=
	local -A applied=()
	local -a lines=()
	dir=$(_bluegreen_config_dir)
	mapfile -t lines < <("${bg_words[0]}" -c "$dir" history --json --limit 50 2>/dev/null)
	for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
		line=${lines[i]}
		action= token= result=
		[[ $line =~ \"action\":\"([^\"]*)\" ]] && action=${BASH_REMATCH[1]}
		[[ $line =~ \"token\":\"([0-9a-f]+)\" ]] && token=${BASH_REMATCH[1]}
		[[ $line =~ \"result\":\"([^\"]*)\" ]] && result=${BASH_REMATCH[1]}
		[[ -n $token ]] || continue
		if [[ $action == apply ]]; then
			applied[$token]=1
		elif [[ $action == plan && $result == pending && -z ${applied[$token]-} ]]; then
			pending=$token
			break
		fi
	done
	[[ -n $pending ]] && printf '%s\n' "$pending"
}

# OPTION=VALUE in the current word: complete VALUE. Readline replaces only
# what follows the last "=" when "=" is a word break (the default), else
# the whole word: the replies carry "OPTION=" then.
_bluegreen_value()
{ # _bluegreen_value CUR KIND [WORDS]: KIND is dir or words
	local opt=${1%%=*}= val=${1#*=} pre=
	[[ $COMP_WORDBREAKS == *=* ]] || pre=$opt
	case $2 in
	dir)
		# -o filenames would quote the "=" of a prefix: then no space only.
		if [[ -z $pre ]]; then compopt -o filenames; else compopt -o nospace; fi 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -P "$pre" -d -- "$val")
		;;
	words) # comma-separated: complete the last item
		[[ $val == *,* ]] && pre+=${val%,*}, && val=${val##*,}
		mapfile -t COMPREPLY < <(compgen -P "$pre" -W "$3" -- "$val")
		;;
	esac
}

_bluegreen()
{
	local cur prev cmd i bg_words=() bg_cword=0
	_bluegreen_words
	cur=${bg_words[bg_cword]-}
	prev=${bg_words[bg_cword - 1]-}
	local commands="apply attest backup backups cockpit help history log logs observe plan rollback status validate versions watch"
	local global_opts="-c --config --json --trace= -h --help --version"
	local areas="dk plan apply hist edge loop cfg all"

	# The command: the first word that is neither an option nor -c's value.
	cmd=
	for ((i = 1; i < bg_cword; i++)); do
		case ${bg_words[i]} in
		-c | --config) ((i++)) ;;
		-*) ;;
		*)
			cmd=${bg_words[i]}
			break
			;;
		esac
	done

	case $cur in
	--config=*)
		_bluegreen_value "$cur" dir
		return
		;;
	--trace=*)
		[[ -z $cmd ]] && _bluegreen_value "$cur" words "$areas"
		return
		;;
	esac
	case $prev in
	-c | --config | --publish-dir)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return
		;;
	--observed | --from | --export | --trust)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
		;;
	--retry | --purge)
		mapfile -t COMPREPLY < <(compgen -W "$(_bluegreen_sites)" -- "$cur")
		return
		;;
	--confirm | --wait | --limit | -n | --lines | --debounce | --listen)
		COMPREPLY=()
		return
		;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$global_opts" -- "$cur")
			# An option ending in "=": its value follows with no space.
			[[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
		else
			mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
		fi
		return
	fi

	# Each command's options: the same as `bluegreen help CMD` (plus --json
	# and --help), checked by test/release/t-completion.sh.
	local opts= words=
	case $cmd in
	apply)
		opts="--confirm --wait --json --help"
		words=$(_bluegreen_pending_token)
		;;
	attest)
		opts="--version --trust --json --help"
		words="key export verify"
		;;
	cockpit) opts="--safe --admin --listen --allow-remote --users --publish-dir --role --sites --json --help" ;;
	history)
		opts="--limit --details --verify --from --export --json --help"
		words=$(_bluegreen_sites)
		;;
	log) opts="-f --follow -n --lines --json --help" ;;
	logs)
		opts="--colour --service -f --follow --since --tail --timestamps --json --help"
		words=$(_bluegreen_sites)
		;;
	backup)
		opts="--no-compress --wait --json --help"
		words="verify $(_bluegreen_sites)"
		;;
	backups)
		opts="--json --help"
		words=$(_bluegreen_sites)
		;;
	observe) opts="--json --help" ;;
	plan)
		opts="--observed --retry --purge --restore --rollback --json --help"
		words=$(_bluegreen_sites)
		;;
	rollback)
		opts="-y --yes --to --restore --confirm --json --help"
		words=$(_bluegreen_sites)
		;;
	status)
		opts="--json --help"
		words=$(_bluegreen_sites)
		;;
	validate) opts="--explain --json --help" ;;
	versions)
		opts="--json --help"
		words=$(_bluegreen_sites)
		;;
	watch) opts="--debounce --json --help" ;;
	help) words=$commands ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
	else
		mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
	fi
}

complete -F _bluegreen bluegreen
