/*
 * tcp-rx-timestamp: can a TCP client learn when the kernel received a segment without reading it
 * with recvmsg? (issue #13: batching wake-ups while keeping exact arrival times). Loopback pair;
 * SO_TIMESTAMPNS on the reading side; the peer writes, we wait 2 ms, then:
 *   1. recv() (what libcurl calls) and ioctl(SIOCGSTAMP / SIOCGSTAMPNS) after it;
 *   2. recvmsg() with a control buffer (SCM_TIMESTAMPNS).
 * Result on Linux 6.18 (2026-12-06): SIOCGSTAMP and SIOCGSTAMPNS fail with ENOENT on TCP (the socket's
 * sk_stamp is kept for datagram sockets only); recvmsg's SCM_TIMESTAMPNS gives the kernel's receive
 * time (2.1 ms before the read here). So exact times with delayed reads need the read itself to
 * be a recvmsg, which libcurl (recv) does not do.
 * Build and run: cc -O2 -o /tmp/tcp-rx-timestamp benchmarks/tcp-rx-timestamp.c && /tmp/tcp-rx-timestamp
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <sys/time.h>
int main(void){
  int l=socket(AF_INET,SOCK_STREAM,0); struct sockaddr_in a={0}; a.sin_family=AF_INET; a.sin_addr.s_addr=htonl(INADDR_LOOPBACK);
  bind(l,(void*)&a,sizeof a); socklen_t len=sizeof a; getsockname(l,(void*)&a,&len); listen(l,1);
  int c=socket(AF_INET,SOCK_STREAM,0); connect(c,(void*)&a,sizeof a); int s=accept(l,0,0);
  int one=1; printf("SO_TIMESTAMPNS set: %d\n", setsockopt(c,SOL_SOCKET,SO_TIMESTAMPNS,&one,sizeof one));
  struct timespec t0; clock_gettime(CLOCK_REALTIME,&t0);
  write(s,"hello",5); usleep(2000);
  char buf[64]; ssize_t n=recv(c,buf,sizeof buf,0); printf("recv %zd\n",n);
  struct timeval tv; int r=ioctl(c,SIOCGSTAMP,&tv); printf("SIOCGSTAMP rc=%d errno=%s tv=%ld.%06ld (sent at %ld.%09ld)\n",r,strerror(errno),tv.tv_sec,tv.tv_usec,t0.tv_sec,t0.tv_nsec);
  struct timespec ts; r=ioctl(c,SIOCGSTAMPNS,&ts); printf("SIOCGSTAMPNS rc=%d errno=%s\n",r,strerror(errno));
  write(s,"again",5); usleep(2000);
  char cb[256]; struct iovec io={buf,sizeof buf}; struct msghdr m={0}; m.msg_iov=&io; m.msg_iovlen=1; m.msg_control=cb; m.msg_controllen=sizeof cb;
  n=recvmsg(c,&m,0); struct timespec now; clock_gettime(CLOCK_REALTIME,&now);
  for(struct cmsghdr*h=CMSG_FIRSTHDR(&m);h;h=CMSG_NXTHDR(&m,h)){ if(h->cmsg_type==SO_TIMESTAMPNS){struct timespec*k=(void*)CMSG_DATA(h); printf("recvmsg cmsg SCM_TIMESTAMPNS %ld.%09ld, read at %ld.%09ld (diff %.3f ms)\n",k->tv_sec,k->tv_nsec,now.tv_sec,now.tv_nsec,((now.tv_sec-k->tv_sec)*1e9+(now.tv_nsec-k->tv_nsec))/1e6);} }
  r=ioctl(c,SIOCGSTAMP,&tv); printf("SIOCGSTAMP after recvmsg rc=%d errno=%s\n",r,strerror(errno));
  return 0; }
