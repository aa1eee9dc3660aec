/*
 * replay-main: runs a libFuzzer target over every file of the corpus
 * directories given as arguments, so each corpus (including every crash
 * that was ever found and added) is replayed by the ordinary test suite,
 * under the sanitizers, without clang's fuzzer runtime.
 */
#include "bg.h"
#include "bg-util.h"

#include <dirent.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	char *data = NULL;
	size_t len = 0;
	int err = bg_file_read(path, 16 * 1024 * 1024, &data, &len);
	if (err) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)data, len);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	size_t n = 0;
	int bad = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad |= replay_file(argv[i]);
			n++;
			continue;
		}
		struct dirent **list = NULL;
		int k = scandir(argv[i], &list, NULL, alphasort);
		for (int j = 0; j < k; j++) {
			if (list[j]->d_name[0] != '.') {
				char *p = bg_xasprintf("%s/%s", argv[i], list[j]->d_name);
				bad |= replay_file(p);
				free(p);
				n++;
			}
			free(list[j]);
		}
		free(list);
	}
	if (n == 0) {
		fprintf(stderr, "replay: empty corpus\n");
		return 1;
	}
	printf("replayed %zu inputs\n", n);
	return bad;
}
