/*
 * logs-image: the test image whose containers print known lines
 * (bluegreen-test/logs:d1a), made with `docker import` from busybox-static
 * like test/images/build.sh: /bin/logdemo prints "out start $MARK", "err
 * start $MARK" (stderr) and "token $APP_SECRET" once, then a tick per
 * second on each stream, and serves /www (index and /healthz) with busybox
 * httpd on 8080. Shared by t-logs and t-cockpit-admin, so both read the
 * same lines from the same image.
 */
#ifndef BG_TEST_LOGS_IMAGE_H
#define BG_TEST_LOGS_IMAGE_H

#define LOGS_IMAGE "bluegreen-test/logs:d1a"

/* Build LOGS_IMAGE unless it exists (a failed step fails the test). */
void logs_image_build(void);

#endif
