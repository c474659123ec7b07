#include "dsd_curl.h"

CURLcode dsd_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_str(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_ptr(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode dsd_curl_easy_setopt_writefn(CURL *handle, CURLoption option, dsd_curl_data_fn fn) {
    return curl_easy_setopt(handle, option, fn);
}

CURLcode dsd_curl_easy_setopt_xferinfofn(CURL *handle, dsd_curl_xferinfo_fn fn) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, fn);
}

CURLcode dsd_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *out) {
    return curl_easy_getinfo(handle, info, out);
}

CURLcode dsd_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *out) {
    return curl_easy_getinfo(handle, info, out);
}

CURLcode dsd_curl_easy_getinfo_ptr(CURL *handle, CURLINFO info, void **out) {
    return curl_easy_getinfo(handle, info, out);
}

CURLMcode dsd_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

CURLMcode dsd_curl_multi_setopt_ptr(CURLM *handle, CURLMoption option, void *value) {
    return curl_multi_setopt(handle, option, value);
}

CURLMSG dsd_curl_msg_kind(const CURLMsg *msg) { return msg->msg; }

CURL *dsd_curl_msg_easy(const CURLMsg *msg) { return msg->easy_handle; }

CURLcode dsd_curl_msg_result(const CURLMsg *msg) { return msg->data.result; }

int dsd_curl_error_size(void) { return CURL_ERROR_SIZE; }
