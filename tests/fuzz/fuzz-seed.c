/* The NoCloud seed (seed/seed.c) with the input as the user's data, as run-instances
 * --user-data gives it: the checks (size, gzip, UTF-8, NUL bytes, #cloud-config and
 * #cloud-config-archive YAML, MIME headers and boundaries) and the rendering that nests the
 * user's data with kiln's #cloud-config into one MIME archive.
 *
 * Checked: when the user data is refused, seed_check_user_data says so alone too; when it is
 * taken, the user-data kiln renders is one that kiln itself would take as user data (if it is
 * within the size limit), and meta-data is the same whatever the user data. */
#include "fuzz.h"
#include "seed/seed.h"

static const char host_key[] =
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
        "QyNTUxOQAAACBmdXp6LWhvc3Qta2V5LW5vdC1hLXJlYWwta2V5AAAAAAAAAAAAAAAAAAAA\n"
        "-----END OPENSSH PRIVATE KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const keys[] = {
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZ1enotdXNlci1rZXktbm90LWEtcmVhbC1rZXk= "
                "user"};
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autoptr(kiln_error) check_err = NULL;
        kiln_autofree char *meta = NULL, *user = NULL;
        seed_spec spec = {
                .instance_id = "i-0123456789abcdef0",
                .hostname = "fuzz",
                .default_user = "admin",
                .authorized_keys = keys,
                .n_authorized_keys = KILN_ARRAY_SIZE(keys),
                .host_key_private = host_key,
                .host_key_public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZ1enotaG9zdC1rZXk= host",
                .user_data = size ? data : NULL,
                .user_data_len = size,
        };
        int r = seed_render(&spec, &meta, &user, &err);

        FUZZ_CHECK((r == 0) == (seed_check_user_data(spec.user_data, size, &check_err) == 0));
        if (r < 0)
                return 0;
        FUZZ_CHECK(strcmp(meta, "instance-id: \"i-0123456789abcdef0\"\n"
                                "local-hostname: \"fuzz\"\n") == 0);
        if (strlen(user) <= SEED_USER_DATA_MAX) {
                kiln_autoptr(kiln_error) again = NULL;

                if (seed_check_user_data(user, strlen(user), &again) < 0) {
                        fprintf(stderr, "rendered user-data refused: %s\n", again->msg);
                        FUZZ_CHECK(!"kiln refuses the user-data it rendered");
                }
        }
        explicit_bzero(user, strlen(user));
        return 0;
}
